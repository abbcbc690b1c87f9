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

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/cluster-api/util"
	"sigs.k8s.io/cluster-api/util/conditions"
	"sigs.k8s.io/cluster-api/util/patch"
	"sigs.k8s.io/cluster-api/util/predicates"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"

	infrav1 "github.com/vpsieinc/cluster-api-provider-vpsie/api/v1alpha1"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/scope"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/services"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/vpsie"
)

// VPSieMachineTemplateReconciler fills a template's status.capacity and status.nodeInfo from its VPSie plan,
// which is what the cluster-autoscaler reads to scale a MachineDeployment up from zero.
type VPSieMachineTemplateReconciler struct {
	Client           client.Client
	Accounts         scope.AccountFactory
	WatchFilterValue string
}

// +kubebuilder:rbac:groups=infrastructure.cluster.x-k8s.io,resources=vpsiemachinetemplates,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=infrastructure.cluster.x-k8s.io,resources=vpsiemachinetemplates/status,verbs=get;update;patch

// SetupWithManager registers the reconciler.
func (r *VPSieMachineTemplateReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager, options controller.Options) error {
	return ctrl.NewControllerManagedBy(mgr).
		WithOptions(options).
		For(&infrav1.VPSieMachineTemplate{}).
		WithEventFilter(predicates.ResourceHasFilterLabel(mgr.GetScheme(), ctrl.LoggerFrom(ctx), r.WatchFilterValue)).
		Complete(r)
}

// Reconcile reads the template's plan and records its capacity.
func (r *VPSieMachineTemplateReconciler) Reconcile(ctx context.Context, req ctrl.Request) (_ ctrl.Result, reterr error) {
	t := &infrav1.VPSieMachineTemplate{}
	if err := r.Client.Get(ctx, req.NamespacedName, t); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	cluster, err := r.cluster(ctx, t)
	if err != nil || cluster == nil {
		return ctrl.Result{}, err
	}
	vc := &infrav1.VPSieCluster{}
	ref := cluster.Spec.InfrastructureRef
	if ref.Kind != "VPSieCluster" {
		return ctrl.Result{}, nil
	}
	if err := r.Client.Get(ctx, types.NamespacedName{Namespace: cluster.Namespace, Name: ref.Name}, vc); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}

	helper, err := patch.NewHelper(t, r.Client)
	if err != nil {
		return ctrl.Result{}, err
	}
	defer func() {
		if err := helper.Patch(ctx, t, patch.WithOwnedConditions{Conditions: []string{infrav1.ReadyCondition}}); err != nil && reterr == nil {
			reterr = err
		}
	}()

	key := types.NamespacedName{Namespace: vc.Namespace, Name: vc.Spec.CredentialsRef.Name}
	_, creds, err := scope.ReadCredentials(ctx, r.Client, key)
	if err != nil {
		conditions.Set(t, metav1.Condition{Type: infrav1.ReadyCondition, Status: metav1.ConditionFalse,
			Reason: infrav1.CredentialsInvalidReason, Message: err.Error()})
		return ctrl.Result{RequeueAfter: services.TerminalRequeue}, nil
	}
	account, err := r.Accounts.Account(key, creds)
	if err != nil {
		return ctrl.Result{}, err
	}

	spec := t.Spec.Template.Spec
	datacenter := spec.Datacenter
	if datacenter == "" {
		datacenter = vc.Spec.Datacenter
	}
	plans, err := account.API.ListPlans(ctx, vpsie.PlanQuery{DcIdentifier: datacenter, OSIdentifier: spec.Image})
	if err != nil {
		o := services.HandleError(t, infrav1.ReadyCondition, "reading VPSie plans", err)
		return ctrl.Result{RequeueAfter: o.RequeueAfter}, o.Err
	}
	for _, p := range plans {
		if string(p.Identifier) == spec.Plan || string(p.Nickname) == spec.Plan {
			t.Status.Capacity = capacity(p)
			// VPSie runs x86-64 Linux servers; no plan or image field says otherwise.
			t.Status.NodeInfo = infrav1.NodeInfo{Architecture: infrav1.ArchitectureAmd64, OperatingSystem: "linux"}
			conditions.Set(t, metav1.Condition{Type: infrav1.ReadyCondition, Status: metav1.ConditionTrue,
				Reason: infrav1.ProvisionedReason, Message: fmt.Sprintf("plan %s: %d vCPU, %d MB memory, %d GB disk", p.Identifier, p.CPU, p.RAM, p.SSD)})
			return ctrl.Result{}, nil
		}
	}
	conditions.Set(t, metav1.Condition{Type: infrav1.ReadyCondition, Status: metav1.ConditionFalse, Reason: infrav1.InvalidSpecReason,
		Message: fmt.Sprintf("plan %q is not offered in datacenter %s for image %s", spec.Plan, datacenter, spec.Image)})
	return ctrl.Result{RequeueAfter: services.TerminalRequeue}, nil
}

// cluster is the Cluster the template belongs to: its owner (set by Cluster API when a MachineDeployment or
// ClusterClass uses it) or its cluster-name label. Nil while the template is not used yet.
func (r *VPSieMachineTemplateReconciler) cluster(ctx context.Context, t *infrav1.VPSieMachineTemplate) (*clusterv1.Cluster, error) {
	if c, err := util.GetOwnerCluster(ctx, r.Client, t.ObjectMeta); err != nil || c != nil {
		return c, err
	}
	name := t.Labels[clusterv1.ClusterNameLabel]
	if name == "" {
		return nil, nil
	}
	c := &clusterv1.Cluster{}
	if err := r.Client.Get(ctx, types.NamespacedName{Namespace: t.Namespace, Name: name}, c); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	return c, nil
}

func capacity(p vpsie.Plan) corev1.ResourceList {
	return corev1.ResourceList{
		corev1.ResourceCPU:              *resource.NewQuantity(int64(p.CPU), resource.DecimalSI),
		corev1.ResourceMemory:           *resource.NewQuantity(int64(p.RAM)*1024*1024, resource.BinarySI),
		corev1.ResourceEphemeralStorage: *resource.NewQuantity(int64(p.SSD)*1024*1024*1024, resource.BinarySI),
	}
}
