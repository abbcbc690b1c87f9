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
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/cluster-api/util/conditions"
	ctrl "sigs.k8s.io/controller-runtime"

	infrav1 "github.com/vpsieinc/cluster-api-provider-vpsie/api/v1alpha1"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/metrics"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/vpsie"
)

// DeletePollInterval is how often a deleting machine checks whether its server is gone.
var DeletePollInterval = 5 * time.Second

// Delete deletes the machine's server and reports done once VPSie confirms it is gone. A server that never
// existed, or is already gone, is done at once. It works from spec.providerID or, when the server was never
// recorded, from the hostname, so a machine deleted mid-create leaves nothing behind.
func (s *Service) Delete(ctx context.Context) (done bool, requeueAfter time.Duration, err error) {
	if id := s.scope.ServerIdentifier(); id != "" {
		return s.deleteServer(ctx, id)
	}
	hostname := s.scope.Hostname()
	snap, err := s.observer.Fresh(ctx, s.scope.Account)
	if err != nil {
		return false, 0, fmt.Errorf("listing servers: %w", err)
	}
	vms, pending := snap.ByHostname(hostname)
	switch {
	case len(vms) > 0:
		// Every server with this machine's hostname is this machine's, duplicates included.
		for _, vm := range vms {
			if _, _, err := s.deleteServer(ctx, string(vm.Identifier)); err != nil {
				return false, 0, err
			}
		}
		return false, DeletePollInterval, nil
	case len(pending) > 0 || s.observer.CreatedWithin(s.scope.Account, hostname, UncertainCreateGrace):
		s.deleting("waiting for VPSie to finish creating " + hostname + " so it can be deleted")
		return false, PollInterval, nil
	}
	return true, 0, nil
}

func (s *Service) deleteServer(ctx context.Context, id string) (bool, time.Duration, error) {
	log := ctrl.LoggerFrom(ctx).WithValues("server", id)
	details, err := s.scope.Account.API.GetVM(ctx, id)
	switch {
	case vpsie.IsNotFound(err):
		return true, 0, nil
	case err != nil:
		return false, 0, fmt.Errorf("reading server %s: %w", id, err)
	case details.VM.IsGone():
		return true, 0, nil
	}
	if s.scope.VPSieMachine.Status.ServerState == infrav1.ServerStateDeleting && s.scope.ServerIdentifier() == id {
		return false, DeletePollInterval, nil
	}
	note := fmt.Sprintf("Cluster API machine %s/%s deleted", s.scope.VPSieMachine.Namespace, s.scope.VPSieMachine.Name)
	if err := s.scope.Account.API.DeleteVM(ctx, id, s.scope.Account.Password, vpsie.DefaultDeleteReason, note); err != nil {
		if vpsie.IsNotFound(err) {
			return true, 0, nil
		}
		return false, 0, fmt.Errorf("deleting server %s: %w", id, err)
	}
	log.Info("Deleted server; waiting for VPSie to confirm it is gone")
	metrics.ServerDeletes.Inc()
	if s.scope.ServerIdentifier() == id {
		s.scope.SetServerState(infrav1.ServerStateDeleting)
	}
	s.deleting("server " + id + " is being deleted")
	return false, DeletePollInterval, nil
}

func (s *Service) deleting(message string) {
	conditions.Set(s.scope.VPSieMachine, metav1.Condition{
		Type: infrav1.ServerReadyCondition, Status: metav1.ConditionFalse, Reason: infrav1.DeletingReason, Message: message,
	})
}
