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

package servers

import (
	"context"
	"fmt"
	"slices"
	"strings"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/scope"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/services"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/vpsie"
)

// The VM list carries no tags; GetVM does. A server is checked before it is adopted or deleted by hostname (the
// hostname hashes the management-cluster identity in, so a foreign server with our hostname means two managers
// were given one identity, or objects were restored by hand). Its tags are read once per process
// (services.ServerTags): they change only by our own claims.

// foreign is the error for a server with the machine's hostname that another management cluster owns.
func (s *Service) foreign(hostname, id string, owners []string) error {
	return fmt.Errorf("%w: server %s (%s) has this machine's hostname but belongs to management cluster %s (tag %s), "+
		"not to %s recorded on the VPSieCluster; the provider neither adopts, deletes nor duplicates it. Two management "+
		"clusters were given the same identity, or objects were restored with another's: see docs/troubleshooting.md",
		services.ErrTerminal, hostname, id, strings.Join(owners, ", "), scope.TagOwner+strings.Join(owners, ","), s.scope.Identity())
}

// ours keeps, of the servers found by hostname, those the cluster's identity owns (see scope.BelongsTo), and
// returns the error naming the others when none is left.
func (s *Service) ours(ctx context.Context, vms []vpsie.VM) ([]vpsie.VM, error) {
	var kept []vpsie.VM
	var refused error
	for _, vm := range vms {
		tags, err := s.observer.serverTags().Get(ctx, s.scope.Account, string(vm.Identifier), false)
		switch {
		case vpsie.IsNotFound(err):
			// The list shows it; "Not found" may be the route's, not the server's (an account's API may lack
			// it). Its tags unknown, the hostname — which hashes the identity in — is the guard.
			kept = append(kept, vm)
			continue
		case err != nil:
			return nil, fmt.Errorf("reading the tags of server %s: %w", vm.Identifier, err)
		}
		if scope.BelongsTo(tags, s.scope.Identity()) {
			kept = append(kept, vm)
			continue
		}
		ctrl.LoggerFrom(ctx).Info("A server with this machine's hostname belongs to another management cluster; leaving it alone",
			"server", vm.Identifier, "owners", scope.Owners(tags))
		refused = s.foreign(string(vm.Hostname), string(vm.Identifier), scope.Owners(tags))
	}
	if len(kept) == 0 && refused != nil {
		return nil, refused
	}
	return kept, nil
}

// oursPending keeps the queued creates of the machine's hostname that the cluster's identity owns, and
// returns the error naming another owner when one of them is someone else's.
func (s *Service) oursPending(pending []vpsie.PendingVM) ([]vpsie.PendingVM, error) {
	var kept []vpsie.PendingVM
	var refused error
	for _, p := range pending {
		tags := make([]string, 0, len(p.Data.Tags))
		for _, t := range p.Data.Tags {
			tags = append(tags, string(t))
		}
		if scope.BelongsTo(tags, s.scope.Identity()) {
			kept = append(kept, p)
			continue
		}
		refused = s.foreign(string(p.Data.Hostname), "pending "+string(p.ID), scope.Owners(tags))
	}
	return kept, refused
}

// claim adds this manager's owner tag to a server of a cluster recorded with another identity (moved here
// with clusterctl move), so that the source's orphan sweep, which touches only what it alone owns, leaves it.
// Best effort: it is retried at every reconcile until it holds.
func (s *Service) claim(ctx context.Context, id string) {
	manager := s.scope.Manager
	if manager == "" || manager == s.scope.Identity() {
		return
	}
	tags, err := s.observer.serverTags().Get(ctx, s.scope.Account, id, false)
	if err != nil {
		ctrl.LoggerFrom(ctx).V(1).Info("Could not read the server's tags to claim it", "server", id, "error", err.Error())
		return
	}
	if slices.Contains(tags, scope.OwnerTag(manager)) {
		return
	}
	if err := s.scope.Account.API.AddVMTags(ctx, id, []string{scope.OwnerTag(manager)}); err != nil {
		ctrl.LoggerFrom(ctx).Info("Could not claim the server of a moved cluster; retrying at the next reconcile",
			"server", id, "error", err.Error())
		return
	}
	s.observer.serverTags().Set(s.scope.Account, id, append(tags, scope.OwnerTag(manager)))
	ctrl.LoggerFrom(ctx).Info("Claimed the server of a cluster moved to this management cluster",
		"server", id, "recordedIdentity", s.scope.Identity(), "claim", scope.OwnerTag(manager))
}
