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

package vpcs

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/cluster-api/util/conditions"
	ctrl "sigs.k8s.io/controller-runtime"

	infrav1 "github.com/vpsieinc/cluster-api-provider-vpsie/api/v1alpha1"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/vpsie"
)

// Delete deletes the VPC the provider created for the cluster (spec.network.vpc.cidr) and reports done once
// VPSie no longer lists it. A VPC named by spec.network.vpc.id is the user's and is left alone. The VPC is
// found by its recorded id and by the cluster's VPC name, so a cluster deleted mid-create or after a
// clusterctl move (which loses status) leaves nothing behind. Not-found is success.
func (s *Service) Delete(ctx context.Context) (DeleteResult, error) {
	vc := s.scope.VPSieCluster
	if vc.Spec.Network.VPC.CIDR == "" {
		vc.Status.Network = infrav1.NetworkStatus{}
		return DeleteResult{Done: true}, nil
	}
	name := s.scope.VPCName()
	targets, err := s.owned(ctx, name)
	if err != nil {
		return DeleteResult{}, err
	}
	if len(targets) == 0 {
		// Nothing listed: a create may still surface (status.network.createIntent).
		var found *vpsie.VPC
		settled, err := s.intents.SettleDeletion(ctx, s.request(name, &found), s.timing.Poll, s.timing.DeletePoll)
		if settled.Waiting {
			s.deleting("waiting to see whether VPSie lists the VPC " + name + " this controller asked for, so it can be deleted")
		}
		if err != nil || !settled.Done {
			return DeleteResult{RequeueAfter: settled.RequeueAfter}, err
		}
		return s.gone(), nil
	}
	s.fulfilled(name)

	log := ctrl.LoggerFrom(ctx)
	note := fmt.Sprintf("Cluster API cluster %s/%s deleted", s.scope.Namespace(), s.scope.Name())
	for _, vpc := range targets {
		err := s.scope.Account.API.DeleteVPC(ctx, vpc.ID.String(), vpsie.DefaultDeleteReason, note)
		switch {
		case err == nil:
			log.Info("Deleted VPC", "vpc", vpc.ID.String(), "name", name)
		case vpsie.IsNotFound(err):
		case vpsie.ClassOf(err) == vpsie.ClassTerminal:
			// E.g. servers still attached: not a spec problem, and it clears once they are gone.
			s.deleting(fmt.Sprintf("VPSie refuses to delete the VPC %s (id %s): %s; trying again in %s",
				name, vpc.ID, err.Error(), DeleteBlockedInterval))
			return DeleteResult{RequeueAfter: DeleteBlockedInterval}, nil
		default:
			return DeleteResult{}, fmt.Errorf("deleting VPC %s: %w", vpc.ID, err)
		}
	}

	// Wait until VPSie confirms it is gone.
	remaining, err := s.owned(ctx, name)
	if err != nil {
		return DeleteResult{Deleted: true}, err
	}
	if len(remaining) == 0 {
		res := s.gone()
		res.Deleted = true
		return res, nil
	}
	s.deleting("the VPC " + name + " is being deleted")
	return DeleteResult{Deleted: true, RequeueAfter: s.timing.DeletePoll}, nil
}

// owned returns the cluster's VPCs: the recorded one and every one with the cluster's VPC name.
func (s *Service) owned(ctx context.Context, name string) ([]vpsie.VPC, error) {
	api := s.scope.Account.API
	vpcs, err := api.ListVPCs(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing VPCs: %w", err)
	}
	found, _ := s.ours(vpsie.FindVPCsByName(vpcs, name)) // another management cluster's are never deleted
	if id := s.scope.VPSieCluster.Status.Network.VPCID; id != "" && !containsID(found, id) {
		vpc, err := api.GetVPC(ctx, id)
		switch {
		case vpsie.IsNotFound(err):
		case err != nil:
			return nil, fmt.Errorf("reading VPC %s: %w", id, err)
		case string(vpc.Name) == name:
			found = append(found, *vpc)
		}
	}
	sortByID(found)
	return found, nil
}

// fulfilled clears the create intent once VPSie lists a VPC of the name: that is what any create made. Left in
// place, an accepted intent would make the deletion wait, after the listed one is gone, for a second one that
// never comes (intent.DefaultAcceptedPatience).
func (s *Service) fulfilled(name string) {
	var found *vpsie.VPC
	req := s.request(name, &found)
	s.intents.Forget(&req)
}

func (s *Service) gone() DeleteResult {
	s.scope.VPSieCluster.Status.Network = infrav1.NetworkStatus{}
	return DeleteResult{Done: true}
}

func (s *Service) deleting(message string) {
	conditions.Set(s.scope.VPSieCluster, metav1.Condition{
		Type: infrav1.NetworkReadyCondition, Status: metav1.ConditionFalse, Reason: infrav1.DeletingReason, Message: message,
	})
}

func containsID(vpcs []vpsie.VPC, id string) bool {
	for _, v := range vpcs {
		if v.ID.String() == id {
			return true
		}
	}
	return false
}
