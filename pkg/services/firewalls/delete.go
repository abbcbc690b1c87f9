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

package firewalls

import (
	"context"
	"errors"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/cluster-api/util/conditions"
	ctrl "sigs.k8s.io/controller-runtime"

	infrav1 "github.com/vpsieinc/cluster-api-provider-vpsie/api/v1alpha1"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/vpsie"
)

// Delete detaches the cluster's group from every server still carrying it and deletes it, and reports done once
// VPSie no longer lists it. The group is found by its recorded identifier and by the cluster's group name,
// whatever the spec says now, so a cluster deleted mid-create, after a clusterctl move (which loses status) or
// after the firewall was turned off leaves nothing behind. Not-found is success.
func (s *Service) Delete(ctx context.Context) (DeleteResult, error) {
	vc := s.scope.VPSieCluster
	if st := vc.Status.Firewall; !vc.Spec.Firewall.IsEnabled() && st.Identifier == "" && st.CreateIntent == nil {
		// Never asked for (or deleted when turned off, which recorded nothing since): no call at all, so an
		// account whose API has no firewall groups deletes its clusters all the same.
		return DeleteResult{Done: true}, nil
	}
	name := s.scope.FirewallName()
	targets, err := s.owned(ctx, name)
	switch {
	case errors.Is(err, errNoRoute):
		vc.Status.Firewall = infrav1.FirewallStatus{}
		return DeleteResult{Done: true}, nil // no firewall groups on this account: nothing to delete
	case err != nil:
		return DeleteResult{}, err
	}
	if len(targets) == 0 {
		// Nothing listed: a create may still surface (status.firewall.createIntent).
		var found *vpsie.FirewallGroup
		settled, err := s.intents.SettleDeletion(ctx, s.request(name, &found), s.timing.Poll, s.timing.DeletePoll)
		if settled.Waiting {
			s.deleting("waiting to see whether VPSie lists the firewall group " + name + " this controller asked for, so it can be deleted")
		}
		if err != nil || !settled.Done {
			return DeleteResult{RequeueAfter: settled.RequeueAfter}, err
		}
		s.scope.VPSieCluster.Status.Firewall = infrav1.FirewallStatus{}
		return DeleteResult{Done: true}, nil
	}
	// What VPSie lists under the name is what any create made: the intent is fulfilled. Left in place, an
	// accepted intent would make the deletion wait, after the listed group is gone, for one that never comes.
	var found *vpsie.FirewallGroup
	req := s.request(name, &found)
	s.intents.Forget(&req)

	api, log := s.scope.Account.API, ctrl.LoggerFrom(ctx)
	note := fmt.Sprintf("Cluster API cluster %s/%s: firewall group no longer wanted", s.scope.Namespace(), s.scope.Name())
	for i := range targets {
		g := &targets[i]
		id := GroupID(g)
		for _, vm := range g.VMs {
			// Servers the cluster no longer has (or that someone else attached): VPSie refuses to delete an
			// attached group.
			if err := api.DetachFirewallGroup(ctx, string(vm.Identifier), id); err != nil && !vpsie.IsNotFound(err) {
				return DeleteResult{}, fmt.Errorf("detaching firewall group %s from server %s: %w", id, vm.Identifier, err)
			}
		}
		err := api.DeleteFirewallGroup(ctx, id, vpsie.DefaultDeleteReason, note)
		switch {
		case err == nil:
			log.Info("Deleted firewall group", "group", id, "name", name)
		case vpsie.IsNotFound(err):
		case vpsie.ClassOf(err) == vpsie.ClassTerminal:
			s.deleting(fmt.Sprintf("VPSie refuses to delete the firewall group %s (id %s): %s; trying again in %s",
				name, id, err.Error(), DeleteBlockedInterval))
			return DeleteResult{RequeueAfter: DeleteBlockedInterval}, nil
		default:
			return DeleteResult{}, fmt.Errorf("deleting firewall group %s: %w", id, err)
		}
	}

	remaining, err := s.owned(ctx, name)
	if err != nil {
		return DeleteResult{Deleted: true}, err
	}
	if len(remaining) == 0 {
		s.scope.VPSieCluster.Status.Firewall = infrav1.FirewallStatus{}
		return DeleteResult{Done: true, Deleted: true}, nil
	}
	s.deleting("the firewall group " + name + " is being deleted")
	return DeleteResult{Deleted: true, RequeueAfter: s.timing.DeletePoll}, nil
}

// owned returns the cluster's groups: every one with the cluster's group name, and the recorded one.
func (s *Service) owned(ctx context.Context, name string) ([]vpsie.FirewallGroup, error) {
	found, err := s.named(ctx, name)
	if err != nil {
		return nil, err
	}
	id := s.scope.VPSieCluster.Status.Firewall.Identifier
	for i := range found {
		if GroupID(&found[i]) == id {
			return found, nil
		}
	}
	if id != "" {
		g, err := s.scope.Account.API.GetFirewallGroup(ctx, id)
		switch {
		case vpsie.IsNotFound(err):
		case err != nil:
			return nil, fmt.Errorf("reading firewall group %s: %w", id, err)
		case string(g.Name) == name:
			found = append(found, *g)
		}
	}
	return found, nil
}

func (s *Service) deleting(message string) {
	conditions.Set(s.scope.VPSieCluster, metav1.Condition{
		Type: infrav1.FirewallReadyCondition, Status: metav1.ConditionFalse, Reason: infrav1.DeletingReason, Message: message,
	})
}
