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

package controllers

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/cluster-api/util/conditions"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	infrav1 "github.com/vpsieinc/cluster-api-provider-vpsie/api/v1alpha1"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/scope"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/services"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/services/loadbalancers"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/services/servers"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/services/vpcs"
)

// DefaultNodeProviderIDPoll is how often a provisioned machine looks for its Node to set the providerID.
const DefaultNodeProviderIDPoll = 15 * time.Second

// reconcileNetworking joins a running server to the cluster's VPC and, for control-plane machines, to the
// control-plane load balancer. Both read VPSie's live state: a cached view could add a backend twice.
func (r *VPSieMachineReconciler) reconcileNetworking(ctx context.Context, s *scope.MachineScope, res servers.Result) (ctrl.Result, error) {
	vm := s.VPSieMachine
	id := s.ServerIdentifier()
	provisioned := vm.Status.Initialization.Provisioned != nil && *vm.Status.Initialization.Provisioned

	if vpcID := s.VPSieCluster.Status.Network.VPCID; vpcID != "" && !provisioned {
		state, err := r.VPCs.Ensure(ctx, s.Account, id, vpcID, s.Datacenter())
		if err != nil {
			return r.outcome(services.HandleError(vm, infrav1.ServerReadyCondition, "attaching the server to VPC "+vpcID, err))
		}
		switch state {
		case vpcs.Joined:
			r.event(vm, corev1.EventTypeNormal, "VPCAttached", "server %s joined VPC %s", id, vpcID)
		case vpcs.Attaching:
			conditions.Set(vm, metav1.Condition{
				Type: infrav1.ServerReadyCondition, Status: metav1.ConditionFalse, Reason: infrav1.WaitingForVPCReason,
				Message: fmt.Sprintf("server %s is joining VPC %s", id, vpcID),
			})
			return ctrl.Result{RequeueAfter: r.Timing.OrDefaults().Poll}, nil
		}
	}

	if !provisioned {
		if result, err := r.attachFirewalls(ctx, s); err != nil || !result.IsZero() {
			return result, err
		}
	}

	lb := s.VPSieCluster.Spec.ControlPlaneLoadBalancer
	if !s.IsControlPlane() || !lb.IsEnabled() {
		return ctrl.Result{}, nil
	}
	lbID := s.VPSieCluster.Status.LoadBalancer.Identifier
	if lbID == "" {
		conditions.Set(vm, metav1.Condition{
			Type: infrav1.LoadBalancerBackendCondition, Status: metav1.ConditionFalse, Reason: infrav1.PendingReason,
			Message: "waiting for the cluster's load balancer",
		})
		return ctrl.Result{RequeueAfter: r.Timing.OrDefaults().Poll}, nil
	}
	ip := res.Server.PublicIPv4()
	if private := string(res.Server.PrivateIP); private != "" && s.VPSieCluster.Status.Network.VPCID != "" {
		ip = private
	}
	if err := loadbalancers.EnsureBackend(ctx, s.Account, lbID, id, ip, lb.EffectivePort()); err != nil {
		return r.outcome(services.HandleError(vm, infrav1.LoadBalancerBackendCondition, "adding the server to load balancer "+lbID, err))
	}
	conditions.Set(vm, metav1.Condition{
		Type: infrav1.LoadBalancerBackendCondition, Status: metav1.ConditionTrue, Reason: infrav1.ProvisionedReason,
		Message: fmt.Sprintf("%s:%d is a backend of load balancer %s", ip, lb.EffectivePort(), lbID),
	})
	return ctrl.Result{}, nil
}

// attachFirewalls attaches the cluster's firewall group and the machine's own groups to a new server before it
// counts as provisioned. Later detaches of the cluster's group are repaired by the cluster controller.
func (r *VPSieMachineReconciler) attachFirewalls(ctx context.Context, s *scope.MachineScope) (ctrl.Result, error) {
	vm := s.VPSieMachine
	id := s.ServerIdentifier()
	var groups []string
	if s.VPSieCluster.Spec.Firewall.IsEnabled() {
		cluster := s.VPSieCluster.Status.Firewall.Identifier
		if cluster == "" {
			conditions.Set(vm, metav1.Condition{
				Type: infrav1.ServerReadyCondition, Status: metav1.ConditionFalse, Reason: infrav1.WaitingForFirewallReason,
				Message: "waiting for the cluster's firewall group (VPSieCluster FirewallReady)",
			})
			return ctrl.Result{RequeueAfter: r.Timing.OrDefaults().Poll}, nil
		}
		groups = append(groups, cluster)
	}
	groups = append(groups, vm.Spec.FirewallGroups...)
	if len(groups) == 0 {
		return ctrl.Result{}, nil
	}
	done, sent, err := r.Firewalls.Ensure(ctx, s.Account, id, groups)
	if err != nil {
		return r.outcome(services.HandleError(vm, infrav1.ServerReadyCondition, "attaching firewall groups to the server", err))
	}
	if sent != "" {
		r.event(vm, corev1.EventTypeNormal, "FirewallAttached", "attached firewall group %s to server %s", sent, id)
	}
	if done {
		return ctrl.Result{}, nil
	}
	conditions.Set(vm, metav1.Condition{
		Type: infrav1.ServerReadyCondition, Status: metav1.ConditionFalse, Reason: infrav1.WaitingForFirewallReason,
		Message: fmt.Sprintf("attaching firewall groups %v to server %s, one at a time", groups, id),
	})
	return ctrl.Result{RequeueAfter: min(r.Timing.OrDefaults().Poll, r.Firewalls.Wait())}, nil
}

// removeFromLoadBalancer takes a deleted control-plane machine out of the load balancer before its server goes.
func (r *VPSieMachineReconciler) removeFromLoadBalancer(ctx context.Context, s *scope.MachineScope) (ctrl.Result, error) {
	lbID := s.VPSieCluster.Status.LoadBalancer.Identifier
	id := s.ServerIdentifier()
	if !s.IsControlPlane() || lbID == "" || id == "" {
		return ctrl.Result{}, nil
	}
	if err := loadbalancers.RemoveBackend(ctx, s.Account, lbID, id); err != nil {
		return r.outcome(services.HandleError(s.VPSieMachine, infrav1.LoadBalancerBackendCondition, "removing the server from load balancer "+lbID, err))
	}
	conditions.Set(s.VPSieMachine, metav1.Condition{
		Type: infrav1.LoadBalancerBackendCondition, Status: metav1.ConditionFalse, Reason: infrav1.DeletingReason,
		Message: "removed from load balancer " + lbID,
	})
	return ctrl.Result{}, nil
}

// reconcileNodeProviderID sets the providerID of the machine's Node in the workload cluster when the kubelet
// did not: VPSie's cloud-controller-manager sets none, and without it Cluster API never links Machine and
// Node. A Node's providerID can only be set from empty, never changed.
func (r *VPSieMachineReconciler) reconcileNodeProviderID(ctx context.Context, s *scope.MachineScope) (ctrl.Result, error) {
	if r.ClusterCache == nil || s.Machine.Status.NodeRef.IsDefined() {
		return ctrl.Result{}, nil
	}
	log := ctrl.LoggerFrom(ctx)
	c, err := r.ClusterCache.GetClient(ctx, client.ObjectKeyFromObject(s.Cluster))
	if err != nil {
		// The workload cluster's API is not reachable yet (control plane still coming up).
		log.V(1).Info("Workload cluster not reachable yet; will set the Node providerID later", "error", err.Error())
		return ctrl.Result{RequeueAfter: services.OrDefault(r.NodeProviderIDPoll, DefaultNodeProviderIDPoll)}, nil
	}
	node := &corev1.Node{}
	if err := c.Get(ctx, client.ObjectKey{Name: s.Hostname()}, node); err != nil {
		if apierrors.IsNotFound(err) {
			return ctrl.Result{RequeueAfter: services.OrDefault(r.NodeProviderIDPoll, DefaultNodeProviderIDPoll)}, nil
		}
		return ctrl.Result{}, fmt.Errorf("reading Node %s: %w", s.Hostname(), err)
	}
	want := s.VPSieMachine.Spec.ProviderID
	switch node.Spec.ProviderID {
	case want:
		return ctrl.Result{}, nil
	case "":
		patch := client.MergeFrom(node.DeepCopy())
		node.Spec.ProviderID = want
		if err := c.Patch(ctx, node, patch); err != nil {
			return ctrl.Result{}, fmt.Errorf("setting providerID of Node %s: %w", node.Name, err)
		}
		r.event(s.VPSieMachine, corev1.EventTypeNormal, "NodeProviderIDSet", "set providerID %s on Node %s", want, node.Name)
		return ctrl.Result{}, nil
	default:
		log.Info("Node with the machine's hostname has another providerID; leaving it alone",
			"node", node.Name, "nodeProviderID", node.Spec.ProviderID, "providerID", want)
		return ctrl.Result{}, nil
	}
}
