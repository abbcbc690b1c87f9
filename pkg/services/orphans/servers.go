/*
Copyright 2026 The cluster-api-provider-vpsie Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package orphans

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/scope"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/vpsie"
)

// servers sweeps the account's servers. Only a complete list is used: ListVMs returns all pages or an error,
// and an error skips the account's pass, since a server missing from a partial list would be missing from
// the count of the cluster's live servers that holds back its VPC.
func (a *accountPass) servers(ctx context.Context) error {
	vms, err := a.account.API.ListVMs(ctx, vpsie.ListVMsOptions{})
	if err != nil {
		return err
	}
	listed := make(map[string]bool, len(vms))
	for i := range vms {
		vm := &vms[i]
		id := string(vm.Identifier)
		if id == "" || vm.IsGone() {
			continue
		}
		listed[id] = true
		// The server of an existing VPSieMachine is not an orphan whatever its tags say; its controller looks
		// after it. Skipping it spares a GetVM per server and pass in the common case.
		if a.hostnames[strings.ToLower(string(vm.Hostname))] {
			continue
		}
		tags, ok := a.tags(ctx, vm, false)
		if !ok {
			continue
		}
		a.server(ctx, vm, tags)
	}
	// Tags of servers no longer listed are not needed again.
	a.s.ServerTags.Retain(a.account, func(id string) bool { return listed[id] })
	return nil
}

// server decides about one server whose tags were read.
func (a *accountPass) server(ctx context.Context, vm *vpsie.VM, tags []string) {
	log := ctrl.LoggerFrom(ctx).WithValues("server", string(vm.Identifier), "hostname", string(vm.Hostname))
	a.observe(ctx, string(vm.Identifier), tags)
	owner, ok := a.serverOwner(tags)
	if !ok {
		return
	}
	key := ownerKey{Kind: ownerMachine, NamespacedName: owner}
	if a.machines[owner] {
		delete(a.s.absent, key)
		return
	}
	since := a.absentSince(key)
	if !a.graceOver(since) {
		log.V(1).Info("The server's VPSieMachine is absent; waiting for the grace period", "owner", owner.String(),
			"absentSince", since, "grace", a.opts.Grace.String())
		return
	}
	// Read the tags again: the manager the cluster was moved to may have claimed the server since they were
	// cached, and a claimed server is not ours alone any more.
	fresh, ok := a.tags(ctx, vm, true)
	if !ok {
		return
	}
	a.observe(ctx, string(vm.Identifier), fresh)
	if again, ok := a.serverOwner(fresh); !ok || again != owner {
		log.V(1).Info("The server's tags changed; it is not an orphan of ours", "tags", fresh)
		return
	}
	id := string(vm.Identifier)
	if a.opts.Mode == ModeReport {
		if c, ok := clusterOf(fresh); ok {
			a.reported[c] = append(a.reported[c], id)
		}
	}
	a.orphan(ctx, Orphan{Kind: KindServer, Name: string(vm.Hostname), ID: id, Owner: owner.String(), AbsentSince: since},
		opDeleteVM, func(ctx context.Context) error {
			return a.account.API.DeleteVM(ctx, id, a.account.Password, vpsie.DefaultDeleteReason,
				a.deleteNote(ownerMachine, owner, since))
		})
}

// serverOwner is the VPSieMachine owning a server that is ours alone: namespace from capvpsie-cluster, name
// from capvpsie-machine. A server lacking either tag has no owner we could check, and is not swept.
func (a *accountPass) serverOwner(tags []string) (types.NamespacedName, bool) {
	if !a.onlyOurs(tags) {
		return types.NamespacedName{}, false
	}
	c, ok := clusterOf(tags)
	if !ok {
		return types.NamespacedName{}, false
	}
	name, ok := scope.MachineOf(tags)
	if !ok {
		return types.NamespacedName{}, false
	}
	return types.NamespacedName{Namespace: c.Namespace, Name: name}, true
}

// observe learns what a live server's tags say of its cluster: that it still has a server (which holds back
// its VPC and load balancer), that it was handed off to another manager, or that it is ours to watch.
func (a *accountPass) observe(ctx context.Context, id string, tags []string) {
	c, ok := clusterOf(tags)
	if !ok {
		return
	}
	owners := scope.Owners(tags)
	if !scope.BelongsTo(tags, a.opts.Identity) {
		return // another management cluster's cluster of the same name
	}
	if !slices.Contains(a.live[c], id) {
		a.live[c] = append(a.live[c], id)
	}
	if len(owners) > 1 {
		if _, known := a.st.handedOff[c]; !known {
			ctrl.LoggerFrom(ctx).Info("A server of the cluster is claimed by another management cluster: the cluster "+
				"was moved; the orphan sweep leaves its servers, VPC and load balancer alone", "cluster", c.String(),
				"owners", owners)
			a.st.handedOff[c] = struct{}{}
		}
		return
	}
	if a.onlyOurs(tags) {
		a.st.clusters[c] = struct{}{}
	}
}

// tags are a server's tags: cached unless fresh, else read with GetVM. A server whose tags cannot be read
// is left for a later pass, and its unknown cluster holds back the account's VPCs and load balancers.
func (a *accountPass) tags(ctx context.Context, vm *vpsie.VM, fresh bool) ([]string, bool) {
	id := string(vm.Identifier)
	tags, err := a.s.ServerTags.Get(ctx, a.account, id, fresh)
	switch {
	case vpsie.IsNotFound(err):
		// Gone since the list, or this account's API lacks the route: nothing is known either way.
		a.unread = true
		ctrl.LoggerFrom(ctx).V(1).Info("The server's tags could not be read: not found", "server", id)
		return nil, false
	case err != nil:
		a.unread = true
		a.fail(ctx, opGetVM, fmt.Errorf("orphan sweep: reading the tags of server %s (%s): %w", vm.Hostname, id, err))
		return nil, false
	}
	return tags, true
}

// clusterOf is the cluster a capvpsie-cluster tag (or description word) names.
func clusterOf(tags []string) (types.NamespacedName, bool) {
	ns, name, ok := scope.ClusterOf(tags)
	return types.NamespacedName{Namespace: ns, Name: name}, ok
}
