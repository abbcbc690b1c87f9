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
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/scope"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/vpsie"
)

// clusterResources sweeps the account's VPCs, load balancers and firewall groups: those of clusters this manager alone owns,
// whose VPSieCluster has been absent for the grace period, that were not handed off to another manager, and
// that have no server left. It runs after servers and only when every server's tags were read.
func (a *accountPass) clusterResources(ctx context.Context) {
	log := ctrl.LoggerFrom(ctx)
	if a.unread {
		a.incomplete = true
		log.V(1).Info("Some servers' tags could not be read; VPCs, load balancers and firewall groups wait for a later pass")
		return
	}
	vpcs, err := a.account.API.ListVPCs(ctx)
	if err != nil {
		a.incomplete = true
		a.fail(ctx, opListVPCs, fmt.Errorf("orphan sweep: listing VPCs, leaving VPCs and load balancers for a later pass: %w", err))
		return
	}
	ourVPCs := map[types.NamespacedName][]vpsie.VPC{}
	for _, vpc := range vpcs {
		// VPCs take no tags: the provider writes the ownership tags into the description.
		words := strings.Fields(string(vpc.Description))
		if !a.onlyOurs(words) {
			continue
		}
		if c, ok := clusterOf(words); ok {
			ourVPCs[c] = append(ourVPCs[c], vpc)
			a.st.clusters[c] = struct{}{}
		}
	}
	lbs, lbErr := a.account.API.ListLoadBalancers(ctx)
	if lbErr != nil {
		a.incomplete = true
		a.fail(ctx, opListLBs, fmt.Errorf("orphan sweep: listing load balancers, leaving them for a later pass: %w", lbErr))
	}
	groups, groupErr := a.account.API.ListFirewallGroups(ctx)
	if vpsie.IsNotFound(groupErr) {
		groups, groupErr = nil, nil // the account's API has no firewall groups (the route answers 404): none to sweep
	}
	if groupErr != nil {
		a.incomplete = true
		a.fail(ctx, opListFirewalls, fmt.Errorf("orphan sweep: listing firewall groups, leaving them for a later pass: %w", groupErr))
	}

	clusters := make([]types.NamespacedName, 0, len(a.st.clusters))
	for c := range a.st.clusters {
		clusters = append(clusters, c)
	}
	slices.SortFunc(clusters, func(x, y types.NamespacedName) int { return cmp.Compare(x.String(), y.String()) })
	for _, c := range clusters {
		// Load balancers and firewall groups carry no readable tags: the exact name the cluster's identity and
		// namespace/name give is all that tells ours; a similar name is someone else's.
		name := scope.ClusterResourceName(a.opts.Identity, c.Namespace, c.Name)
		var ourLBs []vpsie.LoadBalancer
		for _, lb := range lbs {
			if string(lb.Name) == name {
				ourLBs = append(ourLBs, lb)
			}
		}
		ourGroups := vpsie.FindFirewallGroupsByName(groups, scope.FirewallGroupName(a.opts.Identity, c.Namespace, c.Name))
		a.cluster(ctx, c, clusterCloud{vpcs: ourVPCs[c], lbs: ourLBs, groups: ourGroups, listed: lbErr == nil && groupErr == nil})
	}
}

// clusterCloud is what a pass found of one cluster in VPSie.
type clusterCloud struct {
	vpcs   []vpsie.VPC
	lbs    []vpsie.LoadBalancer
	groups []vpsie.FirewallGroup
	// listed is true when load balancers and firewall groups were listed (VPCs always are, or nothing is swept).
	listed bool
}

// cluster decides about the VPCs, load balancers and firewall groups of one cluster.
func (a *accountPass) cluster(ctx context.Context, c types.NamespacedName, cloud clusterCloud) {
	log := ctrl.LoggerFrom(ctx).WithValues("cluster", c.String())
	key := ownerKey{Kind: ownerCluster, NamespacedName: c}
	if a.clusters[c] {
		delete(a.s.absent, key)
		return
	}
	hasServers := a.hasServers(c) || a.machineHoldsCluster(c)
	if !hasServers && len(cloud.vpcs) == 0 && len(cloud.lbs) == 0 && len(cloud.groups) == 0 && cloud.listed {
		delete(a.st.clusters, c) // nothing of it is left
		return
	}
	since := a.absentSince(key)
	if _, moved := a.st.handedOff[c]; moved {
		log.V(1).Info("The cluster was handed off to another management cluster; leaving its VPC and load balancer")
		return
	}
	if !a.graceOver(since) {
		log.V(1).Info("The VPSieCluster is absent; waiting for the grace period", "absentSince", since,
			"grace", a.opts.Grace.String())
		return
	}
	if hasServers {
		log.V(1).Info("The VPSieCluster is gone but the cluster still has servers or VPSieMachines; its VPC and " +
			"load balancer wait for a later pass")
		return
	}
	owner := c.String()
	for _, vpc := range cloud.vpcs {
		id := string(vpc.ID)
		a.orphan(ctx, Orphan{Kind: KindVPC, Name: string(vpc.Name), ID: id, Owner: owner, AbsentSince: since},
			opDeleteVPC, func(ctx context.Context) error {
				return a.account.API.DeleteVPC(ctx, id, vpsie.DefaultDeleteReason, a.deleteNote(ownerCluster, c, since))
			})
	}
	for _, lb := range cloud.lbs {
		id := string(lb.Identifier)
		a.orphan(ctx, Orphan{Kind: KindLoadBalancer, Name: string(lb.Name), ID: id, Owner: owner, AbsentSince: since},
			opDeleteLB, func(ctx context.Context) error {
				return a.account.API.DeleteLoadBalancer(ctx, id, vpsie.DefaultDeleteReason, a.deleteNote(ownerCluster, c, since))
			})
	}
	for _, g := range cloud.groups {
		id := string(g.Identifier)
		if id == "" {
			id = g.ID.String()
		}
		a.orphan(ctx, Orphan{Kind: KindFirewallGroup, Name: string(g.Name), ID: id, Owner: owner, AbsentSince: since},
			opDeleteFirewall, func(ctx context.Context) error {
				// The cluster has no server left; a server someone else attached the group to keeps it from
				// being deleted (VPSie refuses), so it is detached first.
				for _, vm := range g.VMs {
					if err := a.account.API.DetachFirewallGroup(ctx, string(vm.Identifier), id); err != nil && !vpsie.IsNotFound(err) {
						return err
					}
				}
				return a.account.API.DeleteFirewallGroup(ctx, id, vpsie.DefaultDeleteReason, a.deleteNote(ownerCluster, c, since))
			})
	}
}

// hasServers tells whether a live server of ours still carries the cluster's tag. Servers deleted during
// this pass count: the VPC waits until the list no longer shows them. In ModeReport, servers this pass
// reported as orphans do not count, so that the report shows the cluster's VPC and load balancer too.
func (a *accountPass) hasServers(c types.NamespacedName) bool {
	for _, id := range a.live[c] {
		if !slices.Contains(a.reported[c], id) {
			return true
		}
	}
	return false
}
