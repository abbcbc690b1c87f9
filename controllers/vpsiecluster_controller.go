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

// Package controllers holds the provider's reconcilers. They are thin: fetch the objects, check ownership and
// pause, build a scope, call the services in pkg/services, and patch.
package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	kerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/client-go/tools/events"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/cluster-api/util"
	"sigs.k8s.io/cluster-api/util/annotations"
	"sigs.k8s.io/cluster-api/util/conditions"
	"sigs.k8s.io/cluster-api/util/finalizers"
	"sigs.k8s.io/cluster-api/util/paused"
	"sigs.k8s.io/cluster-api/util/predicates"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"

	infrav1 "github.com/vpsieinc/cluster-api-provider-vpsie/api/v1alpha1"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/scope"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/services"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/services/firewalls"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/services/intent"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/services/loadbalancers"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/services/vpcs"
)

const clusterControllerName = "vpsiecluster"

// DefaultMachinesGonePollInterval is how often a deleting VPSieCluster checks whether its VPSieMachines are
// gone, unless Timing.DeletePoll says otherwise.
const DefaultMachinesGonePollInterval = 5 * time.Second

// +kubebuilder:rbac:groups=infrastructure.cluster.x-k8s.io,resources=vpsieclusters,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=infrastructure.cluster.x-k8s.io,resources=vpsieclusters/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=infrastructure.cluster.x-k8s.io,resources=vpsieclusters/finalizers,verbs=update
// +kubebuilder:rbac:groups=infrastructure.cluster.x-k8s.io,resources=vpsiemachines,verbs=get;list;watch
// +kubebuilder:rbac:groups=cluster.x-k8s.io,resources=clusters,verbs=get;list;watch
// The credentials Secret is read by name, uncached, and patched only to add and remove the credentials
// finalizer: no list, no watch (docs/architecture.md, "Security").
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get

// VPSieClusterReconciler reconciles VPSieClusters: credentials, the VPC, the control-plane load balancer and
// endpoint, failure domains, and their deletion.
type VPSieClusterReconciler struct {
	// Client must be the manager's client: the controller lists VPSieClusters by an index of its cache.
	Client client.Client
	// Accounts gives the VPSie API client of a credentials Secret (a *scope.ClientCache in production).
	Accounts scope.AccountFactory
	// ManagementClusterID is this manager's management-cluster identity, recorded on every VPSieCluster at
	// its first reconcile (infrav1.OwnerIdentityAnnotation) and claimed on the resources of moved ones.
	ManagementClusterID string
	// WatchFilterValue, when set, restricts the controller to objects with the label
	// cluster.x-k8s.io/watch-filter of that value.
	WatchFilterValue string
	// Recorder emits events; SetupWithManager sets the manager's when nil.
	Recorder events.EventRecorder
	// Intents is the create-or-adopt tracker of the load balancers and VPCs; SetupWithManager makes one
	// with the defaults when nil.
	Intents *intent.Tracker
	// Backends removes load balancer backends of servers that are gone; SetupWithManager makes one with the
	// defaults when nil.
	Backends *loadbalancers.BackendPruner
	// Timing is how soon a cluster waiting on its load balancer, its VPC or (DeletePoll) the deletion of its
	// machines looks again; zero fields take the defaults.
	Timing services.PollTiming
	// CredentialsRecheck is how soon a cluster whose credentials Secret is missing, malformed or refused by
	// VPSie reads it again; DefaultCredentialsRecheck when zero. Secrets are not watched (the manager may not
	// list them), so this wait is how long a fixed Secret takes to be noticed.
	CredentialsRecheck time.Duration
}

// DefaultCredentialsRecheck is how soon unusable credentials are read again unless CredentialsRecheck says
// otherwise: a user who just fixed the Secret sees it taken within this, and a missing Secret costs one GET
// per cluster per interval.
const DefaultCredentialsRecheck = 30 * time.Second

// SetupWithManager registers the controller, the credentials index and the watch of Clusters.
func (r *VPSieClusterReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager, options controller.Options) error {
	if r.Client == nil || r.Accounts == nil {
		return errors.New("VPSieClusterReconciler needs a Client and Accounts")
	}
	if err := scope.ValidateIdentity(r.ManagementClusterID); err != nil {
		return fmt.Errorf("VPSieClusterReconciler: %w", err)
	}
	if r.Recorder == nil {
		r.Recorder = mgr.GetEventRecorder(clusterControllerName + "-controller")
	}
	if r.Intents == nil {
		r.Intents = &intent.Tracker{}
	}
	if r.Backends == nil {
		r.Backends = &loadbalancers.BackendPruner{}
	}
	if err := mgr.GetFieldIndexer().IndexField(ctx, &infrav1.VPSieCluster{}, CredentialsRefIndex, credentialsRefOf); err != nil {
		return fmt.Errorf("indexing VPSieClusters by credentials Secret: %w", err)
	}
	scheme := mgr.GetScheme()
	log := ctrl.LoggerFrom(ctx).WithValues("controller", clusterControllerName)
	return ctrl.NewControllerManagedBy(mgr).
		Named(clusterControllerName).
		// Paused objects are not filtered out: the controller reports the Paused condition itself.
		For(&infrav1.VPSieCluster{}, builder.WithPredicates(predicates.ResourceHasFilterLabel(scheme, log, r.WatchFilterValue))).
		WithOptions(options).
		Watches(&clusterv1.Cluster{},
			handler.EnqueueRequestsFromMapFunc(util.ClusterToInfrastructureMapFunc(ctx,
				infrav1.GroupVersion.WithKind("VPSieCluster"), mgr.GetClient(), &infrav1.VPSieCluster{})),
			builder.WithPredicates(predicates.All(scheme, log,
				predicates.ResourceHasFilterLabel(scheme, log, r.WatchFilterValue),
				predicates.ClusterPausedTransitions(scheme, log)))).
		// No watch of Secrets: it would need the right to list and watch every Secret of the management
		// cluster. Unusable credentials are read again after CredentialsRecheck; working ones at every
		// reconcile, so a rotation is picked up at the next one and a revoked token at the first 401.
		Complete(r)
}

// Reconcile brings a VPSieCluster's cloud resources in line with its spec, or deletes them.
func (r *VPSieClusterReconciler) Reconcile(ctx context.Context, req ctrl.Request) (_ ctrl.Result, reterr error) {
	log := ctrl.LoggerFrom(ctx)
	vc := &infrav1.VPSieCluster{}
	if err := r.Client.Get(ctx, req.NamespacedName, vc); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if annotations.IsExternallyManaged(vc) {
		log.V(4).Info("VPSieCluster is externally managed; nothing to do")
		return ctrl.Result{}, nil
	}
	cluster, err := r.ownerCluster(ctx, vc)
	if err != nil {
		return ctrl.Result{}, err
	}
	if cluster == nil {
		log.Info("Waiting for the Cluster controller to set the owner reference")
		return ctrl.Result{}, nil
	}
	log = log.WithValues("Cluster", klog.KObj(cluster))
	ctx = ctrl.LoggerInto(ctx, log)

	if isPaused, requeue, err := paused.EnsurePausedCondition(ctx, r.Client, cluster, vc); err != nil || isPaused || requeue {
		return ctrl.Result{}, err
	}
	if added, err := finalizers.EnsureFinalizer(ctx, r.Client, vc, infrav1.ClusterFinalizer); err != nil || added {
		return ctrl.Result{}, err
	}
	if recorded, err := r.recordIdentity(ctx, vc); err != nil || recorded {
		return ctrl.Result{}, err
	}

	if vc.DeletionTimestamp.IsZero() {
		if recorded, err := r.recordProtectedSecret(ctx, vc); err != nil || recorded {
			return ctrl.Result{}, err
		}
	}

	secretKey := types.NamespacedName{Namespace: vc.Namespace, Name: vc.Spec.CredentialsRef.Name}
	secret, creds, credErr := scope.ReadCredentials(ctx, r.Client, secretKey)
	if credErr != nil && !errors.Is(credErr, scope.ErrCredentialsNotFound) && !errors.Is(credErr, scope.ErrCredentialsInvalid) {
		return ctrl.Result{}, credErr
	}
	var account *scope.Account
	if credErr == nil {
		if account, err = r.Accounts.Account(secretKey, creds); err != nil {
			credErr = fmt.Errorf("%w: %w", scope.ErrCredentialsInvalid, err)
		}
	}

	s, err := scope.NewClusterScope(scope.ClusterScopeParams{
		Client: r.Client, Cluster: cluster, VPSieCluster: vc, Account: account, Manager: r.ManagementClusterID,
	})
	if err != nil {
		return ctrl.Result{}, err
	}
	defer func() {
		if err := s.Close(ctx); err != nil {
			reterr = kerrors.NewAggregate([]error{reterr, client.IgnoreNotFound(err)})
		}
	}()

	if !vc.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, s, credErr)
	}
	return r.reconcileNormal(ctx, s, secret, credErr)
}

// recordIdentity writes this manager's identity on a VPSieCluster that has none, before anything is created
// for it: the names and ownership tags of its resources derive from it from then on, whichever manager
// reconciles it later (clusterctl move carries the annotation). The patch is confirmed before any cloud call;
// the update event brings the object back.
func (r *VPSieClusterReconciler) recordIdentity(ctx context.Context, vc *infrav1.VPSieCluster) (bool, error) {
	if _, ok := vc.Annotations[infrav1.OwnerIdentityAnnotation]; ok {
		return false, nil
	}
	before := vc.DeepCopy()
	if vc.Annotations == nil {
		vc.Annotations = map[string]string{}
	}
	vc.Annotations[infrav1.OwnerIdentityAnnotation] = r.ManagementClusterID
	if err := r.Client.Patch(ctx, vc, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
		return false, fmt.Errorf("recording the management-cluster identity: %w", err)
	}
	ctrl.LoggerFrom(ctx).Info("Recorded the management-cluster identity", "identity", r.ManagementClusterID)
	return true, nil
}

func (r *VPSieClusterReconciler) reconcileNormal(ctx context.Context, s *scope.ClusterScope, secret *corev1.Secret, credErr error) (ctrl.Result, error) {
	vc := s.VPSieCluster
	vc.Status.FailureDomains = failureDomains(vc)
	if secret != nil {
		if err := r.protectSecret(ctx, secret); err != nil {
			return ctrl.Result{}, err
		}
	}
	if credErr != nil {
		return r.credentialsProblem(vc, credErr, ""), nil
	}

	o := &outcome{}
	vpcRes, err := vpcs.NewService(s, r.Intents, r.Timing).Reconcile(ctx)
	if err != nil {
		o.fail(vc, infrav1.NetworkReadyCondition, "reconciling the VPC", err)
	}
	o.requeue(vpcRes.RequeueAfter)
	if vpcRes.Created {
		r.event(vc, corev1.EventTypeNormal, "VPCCreated", "Create", "Created VPC %s", s.VPCName())
	}

	lbRes, err := loadbalancers.NewService(s, r.Intents, r.Backends, r.Timing).Reconcile(ctx)
	if err != nil {
		o.fail(vc, infrav1.LoadBalancerReadyCondition, "reconciling the control-plane load balancer", err)
	}
	o.requeue(lbRes.RequeueAfter)
	if lbRes.Created {
		r.event(vc, corev1.EventTypeNormal, "LoadBalancerCreated", "Create", "Created load balancer %s", s.ResourceName())
	}
	for _, id := range lbRes.PrunedBackends {
		r.event(vc, corev1.EventTypeNormal, "LoadBalancerBackendRemoved", "Reconcile",
			"Removed server %s from the load balancer: it no longer exists", id)
	}

	fwRes, err := r.reconcileFirewall(ctx, s)
	if err != nil {
		o.fail(vc, infrav1.FirewallReadyCondition, "reconciling the firewall group", err)
	}
	o.requeue(fwRes.RequeueAfter)

	r.setCredentialsCondition(vc, o.unauthorized, "")
	if o.unauthorized != nil {
		o.requeue(r.credentialsRecheck())
	}
	if vpcRes.Ready && lbRes.Ready && fwRes.Ready && vc.Spec.ControlPlaneEndpoint.IsValid() && !ptr.Deref(vc.Status.Initialization.Provisioned, false) {
		vc.Status.Initialization.Provisioned = ptr.To(true)
		r.event(vc, corev1.EventTypeNormal, "Provisioned", "Reconcile", "Cluster infrastructure is ready; control-plane endpoint %s:%d",
			vc.Spec.ControlPlaneEndpoint.Host, vc.Spec.ControlPlaneEndpoint.Port)
	}
	return o.result()
}

// reconcileFirewall runs the firewall service with the cluster's running servers and reports what it did.
func (r *VPSieClusterReconciler) reconcileFirewall(ctx context.Context, s *scope.ClusterScope) (firewalls.Result, error) {
	var servers []string
	if s.VPSieCluster.Spec.Firewall.IsEnabled() {
		machines, err := r.clusterMachines(ctx, s)
		if err != nil {
			return firewalls.Result{}, err
		}
		for i := range machines {
			// Machines still being provisioned get the group from the machine controller, as their server comes up.
			if m := &machines[i]; m.Status.ServerIdentifier != "" && ptr.Deref(m.Status.Initialization.Provisioned, false) && m.DeletionTimestamp.IsZero() {
				servers = append(servers, m.Status.ServerIdentifier)
			}
		}
	}
	res, err := firewalls.NewService(s, r.Intents, r.Timing).Reconcile(ctx, servers)
	vc := s.VPSieCluster
	if res.Created {
		r.event(vc, corev1.EventTypeNormal, "FirewallCreated", "Create", "Created firewall group %s", s.FirewallName())
	}
	if res.RulesChanged {
		r.event(vc, corev1.EventTypeNormal, "FirewallRulesUpdated", "Reconcile", "Put the rules of firewall group %s in line with spec.firewall", s.FirewallName())
	}
	for _, id := range res.Attached {
		r.event(vc, corev1.EventTypeNormal, "FirewallAttached", "Reconcile", "Attached firewall group %s to server %s", s.FirewallName(), id)
	}
	return res, err
}

// deletionHint tells how to get out of a deletion that cannot reach VPSie.
const deletionHint = "; the VPSieCluster cannot delete its load balancer, firewall group and VPC without working credentials: fix the Secret, " +
	"or annotate the VPSieCluster with " + infrav1.SkipCloudCleanupAnnotation + "=true to delete it and leave whatever it " +
	"created in VPSie for you to remove"

func (r *VPSieClusterReconciler) reconcileDelete(ctx context.Context, s *scope.ClusterScope, credErr error) (ctrl.Result, error) {
	vc := s.VPSieCluster
	if skipCloudCleanup(vc) {
		ctrl.LoggerFrom(ctx).Info("Deleting without cloud cleanup, as the annotation asks; the load balancer, firewall group and VPC, if any, stay in VPSie",
			"name", s.ResourceName())
		for _, t := range clusterResourceConditions {
			conditions.Set(vc, metav1.Condition{Type: t, Status: metav1.ConditionFalse, Reason: infrav1.DeletionSkippedReason,
				Message: "cloud cleanup skipped (" + infrav1.SkipCloudCleanupAnnotation + "=true)"})
		}
		r.event(vc, corev1.EventTypeWarning, "CloudCleanupSkipped", "Delete",
			"Deleted without deleting VPSie resources; remove the load balancer %s, the firewall group %s and the VPC %s yourself",
			s.ResourceName(), s.FirewallName(), s.VPCName())
		return ctrl.Result{}, r.finishDelete(ctx, vc)
	}

	n, err := r.countMachines(ctx, s)
	if err != nil {
		return ctrl.Result{}, err
	}
	if n > 0 {
		msg := fmt.Sprintf("waiting for %d VPSieMachine(s) of the cluster to be deleted", n)
		for _, t := range clusterResourceConditions {
			conditions.Set(vc, metav1.Condition{Type: t, Status: metav1.ConditionFalse,
				Reason: infrav1.WaitingForMachineDeletionReason, Message: msg})
		}
		return ctrl.Result{RequeueAfter: services.OrDefault(r.Timing.DeletePoll, DefaultMachinesGonePollInterval)}, nil
	}
	if credErr != nil {
		return r.credentialsProblem(vc, credErr, deletionHint), nil
	}

	o := &outcome{}
	lbRes, err := loadbalancers.NewService(s, r.Intents, r.Backends, r.Timing).Delete(ctx)
	if lbRes.Deleted {
		r.event(vc, corev1.EventTypeNormal, "LoadBalancerDeleted", "Delete", "Deleted load balancer %s", s.ResourceName())
	}
	if err != nil {
		o.fail(vc, infrav1.LoadBalancerReadyCondition, "deleting the control-plane load balancer", err)
	}
	o.requeue(lbRes.RequeueAfter)
	fwDone, vpcDone := false, false
	if err == nil && lbRes.Done {
		fwRes, err := firewalls.NewService(s, r.Intents, r.Timing).Delete(ctx)
		if fwRes.Deleted {
			r.event(vc, corev1.EventTypeNormal, "FirewallDeleted", "Delete", "Deleted firewall group %s", s.FirewallName())
		}
		if err != nil {
			o.fail(vc, infrav1.FirewallReadyCondition, "deleting the firewall group", err)
		}
		o.requeue(fwRes.RequeueAfter)
		fwDone = err == nil && fwRes.Done
	}
	if fwDone {
		vpcRes, err := vpcs.NewService(s, r.Intents, r.Timing).Delete(ctx)
		if vpcRes.Deleted {
			r.event(vc, corev1.EventTypeNormal, "VPCDeleted", "Delete", "Deleted VPC %s", s.VPCName())
		}
		if err != nil {
			o.fail(vc, infrav1.NetworkReadyCondition, "deleting the VPC", err)
		}
		o.requeue(vpcRes.RequeueAfter)
		vpcDone = vpcRes.Done
	}
	r.setCredentialsCondition(vc, o.unauthorized, deletionHint)
	if o.unauthorized != nil {
		o.requeue(r.credentialsRecheck())
	}
	if lbRes.Done && fwDone && vpcDone {
		return ctrl.Result{}, r.finishDelete(ctx, vc)
	}
	return o.result()
}

// finishDelete releases the credentials Secret and removes the finalizer (patched by the scope at Close).
func (r *VPSieClusterReconciler) finishDelete(ctx context.Context, vc *infrav1.VPSieCluster) error {
	if err := r.releaseCredentials(ctx, vc); err != nil {
		return err
	}
	if controllerutil.RemoveFinalizer(vc, infrav1.ClusterFinalizer) {
		r.event(vc, corev1.EventTypeNormal, "Deleted", "Delete", "Cluster infrastructure deleted")
	}
	return nil
}

// ownerCluster is the owning Cluster; nil while CAPI has not set the owner reference. A VPSieCluster that is
// being deleted after its Cluster vanished is given a stand-in, so that its cloud resources are still found
// (by names derived from namespace and Cluster name) and deleted.
func (r *VPSieClusterReconciler) ownerCluster(ctx context.Context, vc *infrav1.VPSieCluster) (*clusterv1.Cluster, error) {
	cluster, err := util.GetOwnerCluster(ctx, r.Client, vc.ObjectMeta)
	if err == nil || !apierrors.IsNotFound(err) || vc.DeletionTimestamp.IsZero() || !controllerutil.ContainsFinalizer(vc, infrav1.ClusterFinalizer) {
		return cluster, err
	}
	for _, ref := range vc.OwnerReferences {
		if ref.Kind == "Cluster" {
			ctrl.LoggerFrom(ctx).Info("The owner Cluster is gone; deleting the cluster infrastructure on its own", "cluster", ref.Name)
			return &clusterv1.Cluster{ObjectMeta: metav1.ObjectMeta{Namespace: vc.Namespace, Name: ref.Name}}, nil
		}
	}
	return nil, err
}

// clusterResourceConditions are the conditions of the cluster's own VPSie resources.
var clusterResourceConditions = []string{infrav1.LoadBalancerReadyCondition, infrav1.FirewallReadyCondition, infrav1.NetworkReadyCondition}

// countMachines counts the cluster's VPSieMachines still present.
func (r *VPSieClusterReconciler) countMachines(ctx context.Context, s *scope.ClusterScope) (int, error) {
	machines, err := r.clusterMachines(ctx, s)
	return len(machines), err
}

// clusterMachines lists the cluster's VPSieMachines (from the cache).
func (r *VPSieClusterReconciler) clusterMachines(ctx context.Context, s *scope.ClusterScope) ([]infrav1.VPSieMachine, error) {
	list := &infrav1.VPSieMachineList{}
	if err := r.Client.List(ctx, list, client.InNamespace(s.Namespace()),
		client.MatchingLabels{clusterv1.ClusterNameLabel: s.Name()}); err != nil {
		return nil, fmt.Errorf("listing the cluster's VPSieMachines: %w", err)
	}
	return list.Items, nil
}

// failureDomains are the spec's failure domains, or the cluster's datacenter.
func failureDomains(vc *infrav1.VPSieCluster) []clusterv1.FailureDomain {
	if len(vc.Spec.FailureDomains) == 0 {
		return []clusterv1.FailureDomain{{Name: vc.Spec.Datacenter, ControlPlane: ptr.To(true)}}
	}
	out := make([]clusterv1.FailureDomain, 0, len(vc.Spec.FailureDomains))
	for i := range vc.Spec.FailureDomains {
		fd := &vc.Spec.FailureDomains[i]
		out = append(out, clusterv1.FailureDomain{Name: fd.Datacenter, ControlPlane: ptr.To(fd.AllowsControlPlane())})
	}
	return out
}

func (r *VPSieClusterReconciler) event(vc *infrav1.VPSieCluster, eventType, reason, action, note string, args ...any) {
	if r.Recorder != nil {
		r.Recorder.Eventf(vc, nil, eventType, reason, action, note, args...)
	}
}
