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

package loadbalancers

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/cluster-api/util/conditions"
	ctrl "sigs.k8s.io/controller-runtime"

	infrav1 "github.com/vpsieinc/cluster-api-provider-vpsie/api/v1alpha1"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/services"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/vpsie"
)

// DeleteResult is what Delete did.
type DeleteResult = services.DeleteResult

// Delete deletes the cluster's load balancer and reports done once VPSie no longer knows it. It is found by
// the recorded identifier and by the cluster's load balancer name, so a cluster deleted mid-create or after a
// clusterctl move (which loses status) leaves nothing behind; a load balancer still being created is waited
// for, then deleted. Not-found is success.
func (s *Service) Delete(ctx context.Context) (DeleteResult, error) {
	vc := s.scope.VPSieCluster
	st := &vc.Status.LoadBalancer
	if !vc.Spec.ControlPlaneLoadBalancer.IsEnabled() && st.Identifier == "" {
		*st = infrav1.LoadBalancerStatus{}
		return DeleteResult{Done: true}, nil
	}
	name := s.scope.ResourceName()
	targets, err := s.owned(ctx, name)
	if err != nil {
		return DeleteResult{}, err
	}
	deleted := false
	if len(targets) > 0 {
		s.fulfilled(name)
		note := fmt.Sprintf("Cluster API cluster %s/%s deleted", s.scope.Namespace(), s.scope.Name())
		for _, id := range targets {
			err := s.scope.Account.API.DeleteLoadBalancer(ctx, id, vpsie.DefaultDeleteReason, note)
			switch {
			case err == nil:
				deleted = true
				ctrl.LoggerFrom(ctx).Info("Deleted load balancer", "loadBalancer", id, "name", name)
			case vpsie.IsNotFound(err):
			default:
				return DeleteResult{}, fmt.Errorf("deleting load balancer %s: %w", id, err)
			}
		}
		// Wait until VPSie confirms it is gone.
		if targets, err = s.owned(ctx, name); err != nil {
			return DeleteResult{Deleted: deleted}, err
		}
		if len(targets) > 0 {
			s.deleting("the load balancer " + name + " is being deleted")
			return DeleteResult{Deleted: deleted, RequeueAfter: s.timing.DeletePoll}, nil
		}
	}

	// Nothing listed: one may still be on its way (queued, or a create whose outcome is unknown).
	var found *vpsie.LoadBalancer
	settled, err := s.intents.SettleDeletion(ctx, s.request(name, &found), s.timing.Poll, s.timing.DeletePoll)
	if settled.Waiting {
		s.deleting("waiting for VPSie to finish creating the load balancer " + name + " so it can be deleted")
	}
	if err != nil || !settled.Done {
		return DeleteResult{Deleted: deleted, RequeueAfter: settled.RequeueAfter}, err
	}
	*st = infrav1.LoadBalancerStatus{}
	return DeleteResult{Done: true, Deleted: deleted}, nil
}

// owned returns the identifiers of the cluster's load balancers: the recorded one and every listed one with the
// cluster's load balancer name.
func (s *Service) owned(ctx context.Context, name string) ([]string, error) {
	api := s.scope.Account.API
	lbs, err := api.ListLoadBalancers(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing load balancers: %w", err)
	}
	var ids []string
	seen := map[string]bool{}
	for _, lb := range vpsie.FindLoadBalancersByName(lbs, name) {
		ids = append(ids, string(lb.Identifier))
		seen[string(lb.Identifier)] = true
	}
	if id := s.scope.VPSieCluster.Status.LoadBalancer.Identifier; id != "" && !seen[id] {
		_, err := api.GetLoadBalancer(ctx, id)
		switch {
		case vpsie.IsNotFound(err):
		case err != nil:
			return nil, fmt.Errorf("reading load balancer %s: %w", id, err)
		default:
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// fulfilled clears the create intent once VPSie lists a load balancer of the name: that is what any create
// made. Left in place, an accepted intent would make the deletion wait, after the listed one is gone, for a
// second one that never comes (intent.DefaultAcceptedPatience).
func (s *Service) fulfilled(name string) {
	var found *vpsie.LoadBalancer
	req := s.request(name, &found)
	s.intents.Forget(&req)
}

func (s *Service) deleting(message string) {
	conditions.Set(s.scope.VPSieCluster, metav1.Condition{
		Type: infrav1.LoadBalancerReadyCondition, Status: metav1.ConditionFalse, Reason: infrav1.DeletingReason, Message: message,
	})
}
