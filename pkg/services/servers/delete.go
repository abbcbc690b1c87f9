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
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/services/intent"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/vpsie"
)

// Delete deletes the machine's servers and reports done once VPSie confirms they are gone and none can still
// appear. Every live server with the machine's hostname is the machine's — duplicates included — and so is the
// recorded one; a create that may still surface (status.createIntent: queued, accepted, or with a lost answer)
// is waited for, then deleted, so a machine deleted mid-create leaves nothing behind.
func (s *Service) Delete(ctx context.Context) (done bool, requeueAfter time.Duration, err error) {
	hostname := s.scope.Hostname()
	var found []vpsie.VM
	out, err := s.intents.Settle(ctx, s.request(hostname, &found, false))
	if err != nil {
		return false, 0, err
	}
	targets := make([]string, 0, len(found)+1)
	for _, vm := range found {
		targets = append(targets, string(vm.Identifier))
	}
	if id := s.scope.ServerIdentifier(); id != "" && !contains(targets, id) && !s.observer.deleteSentBefore(s.scope.Account, id, s.looked) {
		live, err := s.exists(ctx, id)
		if err != nil {
			return false, 0, err
		}
		if live {
			targets = append(targets, id)
		}
	}
	for _, id := range targets {
		if err := s.deleteServer(ctx, id); err != nil {
			return false, 0, err
		}
	}
	switch {
	case len(targets) > 0:
		return false, s.timing.DeletePoll, nil
	case out.Phase == intent.Gone:
		return true, 0, nil
	case out.Phase == intent.InQueue:
		s.deleting("waiting for VPSie to finish creating " + hostname + " so it can be deleted")
	case out.Phase == intent.Accepted:
		s.deleting("VPSie accepted the server " + hostname + " but does not list it yet; waiting for it, to delete it")
	default:
		s.deleting("the outcome of the create of " + hostname + " is unknown; waiting to see whether VPSie lists it, to delete it")
	}
	return false, s.timing.Poll, nil
}

// A recorded server that a complete list taken after this process's accepted DELETE no longer shows is gone:
// that is what the delete does, and VPSie keeps deleted servers listed for a while, not the other way round.
// Anything else the list does not show — a server deleted by an earlier process, or never listed — is read.

// exists reads a recorded server that the list does not show (the list may lag or page). Only VPSie's word
// that it does not exist, or that it is deleted, counts as gone; any other answer is an error, never "gone".
func (s *Service) exists(ctx context.Context, id string) (bool, error) {
	details, err := s.scope.Account.API.GetVM(ctx, id)
	switch {
	case vpsie.IsNotFound(err):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("reading server %s: %w", id, err)
	}
	return !details.VM.IsGone(), nil
}

// deleteServer sends the delete of a listed server once; a server already being deleted is only waited for.
func (s *Service) deleteServer(ctx context.Context, id string) error {
	recorded := s.scope.ServerIdentifier() == id
	if (recorded && s.scope.VPSieMachine.Status.ServerState == infrav1.ServerStateDeleting) ||
		s.observer.deleteSentRecently(s.scope.Account, id) {
		return nil
	}
	note := fmt.Sprintf("Cluster API machine %s/%s deleted", s.scope.VPSieMachine.Namespace, s.scope.VPSieMachine.Name)
	if err := s.scope.Account.API.DeleteVM(ctx, id, s.scope.Account.Password, vpsie.DefaultDeleteReason, note); err != nil {
		if vpsie.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("deleting server %s: %w", id, err)
	}
	s.observer.deleteSent(s.scope.Account, id)
	ctrl.LoggerFrom(ctx).Info("Deleted server; waiting for VPSie to confirm it is gone", "server", id, "recorded", recorded)
	metrics.ServerDeletes.Inc()
	if recorded {
		s.scope.SetServerState(infrav1.ServerStateDeleting)
	}
	s.deleting("server " + id + " is being deleted")
	return nil
}

func (s *Service) deleting(message string) {
	conditions.Set(s.scope.VPSieMachine, metav1.Condition{
		Type: infrav1.ServerReadyCondition, Status: metav1.ConditionFalse, Reason: infrav1.DeletingReason, Message: message,
	})
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
