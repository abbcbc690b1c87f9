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

// Package controllers holds the provider's reconcilers. They are thin: fetch the objects, honour ownership,
// pause and deletion, build a scope, call the services, patch.
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
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/cluster-api/controllers/clustercache"
	"sigs.k8s.io/cluster-api/util"
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
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/metrics"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/scope"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/services"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/services/firewalls"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/services/intent"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/services/servers"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/services/vpcs"
)

// VPSieMachineReconciler reconciles VPSieMachines into VPSie servers.
type VPSieMachineReconciler struct {
	Client client.Client
	// Accounts gives the VPSie client of a cluster's credentials.
	Accounts scope.AccountFactory
	// ManagementClusterID is this manager's management-cluster identity: servers of a cluster recorded with
	// another one (moved here) are claimed with it.
	ManagementClusterID string
	// UserDataLimit is the most user data a create may send, base64-encoded as sent (--max-user-data-bytes);
	// cloudinit.DefaultSizeLimit when zero, no limit when negative.
	UserDataLimit int
	// Observer shares VM lists between machines of an account (batch polling).
	Observer *servers.Observer
	// VPCs joins servers to their cluster's VPC; SetupWithManager makes one with the defaults when nil.
	VPCs *vpcs.Attacher
	// Firewalls attaches the cluster's firewall group and the machine's own to new servers; SetupWithManager
	// makes one with the defaults when nil.
	Firewalls *firewalls.Attacher
	// Intents is the create-or-adopt tracker of the servers; SetupWithManager makes one with the defaults
	// when nil.
	Intents *intent.Tracker
	// ClusterCache reaches workload clusters to set Node providerIDs; nil disables that.
	ClusterCache clustercache.ClusterCache
	// Recorder emits events on transitions.
	Recorder events.EventRecorder
	// WatchFilterValue restricts reconciliation to objects with this cluster.x-k8s.io/watch-filter label.
	WatchFilterValue string
	// Timing is the server life cycle's waits; zero fields take the defaults (servers.Timing).
	Timing servers.Timing
	// NodeProviderIDPoll is how often a provisioned machine looks for its Node to set the providerID;
	// DefaultNodeProviderIDPoll when zero.
	NodeProviderIDPoll time.Duration
}

// +kubebuilder:rbac:groups=infrastructure.cluster.x-k8s.io,resources=vpsiemachines,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=infrastructure.cluster.x-k8s.io,resources=vpsiemachines/status;vpsiemachines/finalizers,verbs=get;update;patch
// +kubebuilder:rbac:groups=infrastructure.cluster.x-k8s.io,resources=vpsieclusters,verbs=get;list;watch
// +kubebuilder:rbac:groups=cluster.x-k8s.io,resources=clusters;machines,verbs=get;list;watch
// Secrets (the VPSieCluster's credentials, the Machine's bootstrap data, the workload cluster's kubeconfig)
// are read by name, uncached: no list, no watch.
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// SetupWithManager registers the reconciler: VPSieMachines, and the Machines and Clusters they depend on.
func (r *VPSieMachineReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager, options controller.Options) error {
	log := ctrl.LoggerFrom(ctx)
	if r.Recorder == nil {
		r.Recorder = mgr.GetEventRecorder("vpsiemachine-controller")
	}
	if err := scope.ValidateIdentity(r.ManagementClusterID); err != nil {
		return fmt.Errorf("VPSieMachineReconciler: %w", err)
	}
	if r.Intents == nil {
		r.Intents = &intent.Tracker{}
	}
	if r.VPCs == nil {
		r.VPCs = &vpcs.Attacher{}
	}
	if r.Firewalls == nil {
		r.Firewalls = &firewalls.Attacher{}
	}
	clusterToMachines, err := util.ClusterToTypedObjectsMapper(mgr.GetClient(), &infrav1.VPSieMachineList{}, mgr.GetScheme())
	if err != nil {
		return err
	}
	b := ctrl.NewControllerManagedBy(mgr).
		WithOptions(options).
		For(&infrav1.VPSieMachine{}).
		// Paused objects must still reach Reconcile, which reports them with the Paused condition.
		WithEventFilter(predicates.ResourceHasFilterLabel(mgr.GetScheme(), log, r.WatchFilterValue)).
		Watches(&clusterv1.Machine{}, handler.EnqueueRequestsFromMapFunc(
			util.MachineToInfrastructureMapFunc(infrav1.GroupVersion.WithKind("VPSieMachine")))).
		Watches(&clusterv1.Cluster{}, handler.EnqueueRequestsFromMapFunc(clusterToMachines),
			builder.WithPredicates(predicates.ClusterPausedTransitionsOrInfrastructureProvisioned(mgr.GetScheme(), log)))
	if r.ClusterCache != nil {
		// Nodes joining a workload cluster wake their machine, so providerIDs are set without delay.
		b = b.WatchesRawSource(r.ClusterCache.GetClusterSource("vpsiemachine", clusterToMachines))
	}
	return b.Complete(r)
}

// Reconcile moves one VPSieMachine toward its desired state.
func (r *VPSieMachineReconciler) Reconcile(ctx context.Context, req ctrl.Request) (_ ctrl.Result, reterr error) {
	log := ctrl.LoggerFrom(ctx)
	vm := &infrav1.VPSieMachine{}
	if err := r.Client.Get(ctx, req.NamespacedName, vm); err != nil {
		if apierrors.IsNotFound(err) {
			metrics.MachineStates.Set(req.NamespacedName, "")
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}

	machine, err := util.GetOwnerMachine(ctx, r.Client, vm.ObjectMeta)
	if err != nil || machine == nil {
		if err == nil {
			log.V(1).Info("Waiting for the Machine controller to set the owner reference")
		}
		return ctrl.Result{}, err
	}
	log = log.WithValues("Machine", klog.KObj(machine))
	cluster, err := util.GetClusterFromMetadata(ctx, r.Client, machine.ObjectMeta)
	if err != nil {
		log.Info("Machine has no cluster; waiting for the cluster-name label")
		return ctrl.Result{}, nil
	}
	log = log.WithValues("Cluster", klog.KObj(cluster))
	ctx = ctrl.LoggerInto(ctx, log)

	if isPaused, requeue, err := paused.EnsurePausedCondition(ctx, r.Client, cluster, vm); err != nil || isPaused || requeue {
		return ctrl.Result{}, err
	}

	vpsieCluster, err := r.vpsieCluster(ctx, cluster)
	if err != nil || vpsieCluster == nil {
		return ctrl.Result{}, err
	}

	if vm.DeletionTimestamp.IsZero() {
		if added, err := finalizers.EnsureFinalizer(ctx, r.Client, vm, infrav1.MachineFinalizer); err != nil || added {
			return ctrl.Result{}, err
		}
	}

	account, credErr := r.account(ctx, vpsieCluster)
	s, err := scope.NewMachineScope(scope.MachineScopeParams{
		Client: r.Client, Cluster: cluster, Machine: machine, VPSieCluster: vpsieCluster, VPSieMachine: vm, Account: account,
		Manager: r.ManagementClusterID, UserDataLimit: r.UserDataLimit,
	})
	if err != nil {
		return ctrl.Result{}, err
	}
	defer func() {
		metrics.MachineStates.Set(req.NamespacedName, string(vm.Status.ServerState))
		if err := s.Close(ctx); err != nil && !apierrors.IsNotFound(err) {
			reterr = kerrors.NewAggregate([]error{reterr, err})
		}
	}()

	if !vm.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, s, credErr)
	}
	if credErr != nil {
		return r.credentialsProblem(vm, credErr), nil
	}
	return r.reconcileNormal(ctx, s)
}

// vpsieCluster fetches the cluster's VPSieCluster; nil when the Cluster does not use one (yet).
func (r *VPSieMachineReconciler) vpsieCluster(ctx context.Context, cluster *clusterv1.Cluster) (*infrav1.VPSieCluster, error) {
	ref := cluster.Spec.InfrastructureRef
	if ref.Kind != "VPSieCluster" || ref.Name == "" {
		ctrl.LoggerFrom(ctx).V(1).Info("Cluster has no VPSieCluster infrastructure reference yet")
		return nil, nil
	}
	vc := &infrav1.VPSieCluster{}
	if err := r.Client.Get(ctx, types.NamespacedName{Namespace: cluster.Namespace, Name: ref.Name}, vc); err != nil {
		if apierrors.IsNotFound(err) {
			ctrl.LoggerFrom(ctx).Info("VPSieCluster not found yet", "name", ref.Name)
			return nil, nil
		}
		return nil, err
	}
	return vc, nil
}

func (r *VPSieMachineReconciler) account(ctx context.Context, vc *infrav1.VPSieCluster) (*scope.Account, error) {
	key := types.NamespacedName{Namespace: vc.Namespace, Name: vc.Spec.CredentialsRef.Name}
	_, creds, err := scope.ReadCredentials(ctx, r.Client, key)
	if err != nil {
		return nil, err
	}
	return r.Accounts.Account(key, creds)
}

// credentialsProblem reports unusable credentials; the VPSieCluster reports the details, the machine reads the
// Secret again in a minute (Secrets are not watched) without hammering anything.
func (r *VPSieMachineReconciler) credentialsProblem(vm *infrav1.VPSieMachine, err error) ctrl.Result {
	reason := infrav1.CredentialsInvalidReason
	if errors.Is(err, scope.ErrCredentialsNotFound) {
		reason = infrav1.CredentialsNotFoundReason
	}
	conditions.Set(vm, metav1.Condition{
		Type: infrav1.ServerReadyCondition, Status: metav1.ConditionFalse, Reason: reason, Message: err.Error(),
	})
	return ctrl.Result{RequeueAfter: time.Minute}
}

func (r *VPSieMachineReconciler) reconcileNormal(ctx context.Context, s *scope.MachineScope) (ctrl.Result, error) {
	vm := s.VPSieMachine
	if s.Cluster.Status.Initialization.InfrastructureProvisioned == nil || !*s.Cluster.Status.Initialization.InfrastructureProvisioned {
		waiting(vm, infrav1.WaitingForClusterInfrastructureReason, "waiting for the cluster infrastructure (VPSieCluster) to be provisioned")
		return ctrl.Result{}, nil
	}
	if s.Identity() == "" {
		waiting(vm, infrav1.WaitingForClusterInfrastructureReason, "waiting for the VPSieCluster to record its management-cluster identity")
		return ctrl.Result{}, nil
	}
	if s.ServerIdentifier() == "" && s.Machine.Spec.Bootstrap.DataSecretName == nil {
		waiting(vm, infrav1.WaitingForBootstrapDataReason, "waiting for the bootstrap provider to write the bootstrap data Secret")
		return ctrl.Result{}, nil
	}

	wasProvisioned := vm.Status.Initialization.Provisioned != nil && *vm.Status.Initialization.Provisioned
	oldState := vm.Status.ServerState
	res, err := servers.NewService(s, r.Observer, r.Intents, r.Timing).Reconcile(ctx)
	if err != nil {
		return r.outcome(services.HandleError(vm, infrav1.ServerReadyCondition, "reconciling the server", err))
	}
	if oldState != vm.Status.ServerState {
		r.event(vm, corev1.EventTypeNormal, "Server"+string(vm.Status.ServerState), "server %s (%s) is %s",
			s.Hostname(), s.ServerIdentifier(), vm.Status.ServerState)
	}
	if res.Server == nil {
		return ctrl.Result{RequeueAfter: res.RequeueAfter}, nil
	}

	if result, err := r.reconcileNetworking(ctx, s, res); err != nil || !result.IsZero() {
		return result, err
	}

	s.SetProvisioned()
	if !wasProvisioned {
		metrics.ObserveSince(metrics.ProvisioningDuration, vm.CreationTimestamp.Time)
		r.event(vm, corev1.EventTypeNormal, "Provisioned", "server %s is running; providerID %s", s.ServerIdentifier(), vm.Spec.ProviderID)
	}
	result, err := r.reconcileNodeProviderID(ctx, s)
	if err == nil && (result.RequeueAfter == 0 || result.RequeueAfter > res.RequeueAfter) {
		// Keep watching the server: a server deleted or stopped out of band must show in the conditions.
		result.RequeueAfter = res.RequeueAfter
	}
	return result, err
}

// outcome turns a handled error into the reconcile result, counting it.
func (r *VPSieMachineReconciler) outcome(o services.Outcome) (ctrl.Result, error) {
	metrics.ReconcileErrors.WithLabelValues("vpsiemachine", string(o.Class)).Inc()
	return ctrl.Result{RequeueAfter: o.RequeueAfter}, o.Err
}

func (r *VPSieMachineReconciler) event(obj *infrav1.VPSieMachine, eventType, reason, note string, args ...any) {
	if r.Recorder != nil {
		r.Recorder.Eventf(obj, nil, eventType, reason, "Reconcile", note, args...)
	}
}

func waiting(vm *infrav1.VPSieMachine, reason, message string) {
	conditions.Set(vm, metav1.Condition{
		Type: infrav1.ServerReadyCondition, Status: metav1.ConditionFalse, Reason: reason, Message: message,
	})
}

func (r *VPSieMachineReconciler) reconcileDelete(ctx context.Context, s *scope.MachineScope, credErr error) (ctrl.Result, error) {
	vm := s.VPSieMachine
	if skipCloudCleanup(vm, s.VPSieCluster) {
		r.event(vm, corev1.EventTypeWarning, infrav1.DeletionSkippedReason,
			"deleted without deleting server %q: the %s annotation is set", s.Hostname(), infrav1.SkipCloudCleanupAnnotation)
		controllerutil.RemoveFinalizer(vm, infrav1.MachineFinalizer)
		return ctrl.Result{}, nil
	}
	if credErr != nil {
		conditions.Set(vm, metav1.Condition{
			Type: infrav1.ServerReadyCondition, Status: metav1.ConditionFalse, Reason: infrav1.CredentialsInvalidReason,
			Message: fmt.Sprintf("cannot delete the server: %v. Fix the credentials Secret, or set the annotation %s: \"true\" "+
				"to delete the VPSieMachine without deleting its server", credErr, infrav1.SkipCloudCleanupAnnotation),
		})
		return ctrl.Result{RequeueAfter: time.Minute}, nil
	}
	if result, err := r.removeFromLoadBalancer(ctx, s); err != nil || !result.IsZero() {
		return result, err
	}
	done, requeueAfter, err := servers.NewService(s, r.Observer, r.Intents, r.Timing).Delete(ctx)
	if err != nil {
		return r.outcome(services.HandleError(vm, infrav1.ServerReadyCondition, "deleting the server", err))
	}
	if !done {
		return ctrl.Result{RequeueAfter: requeueAfter}, nil
	}
	metrics.ObserveSince(metrics.DeletionDuration, vm.DeletionTimestamp.Time)
	r.event(vm, corev1.EventTypeNormal, "ServerDeleted", "server %s is gone", s.Hostname())
	vm.Status.ServerState = ""
	controllerutil.RemoveFinalizer(vm, infrav1.MachineFinalizer)
	return ctrl.Result{}, nil
}

func skipCloudCleanup(objs ...client.Object) bool {
	for _, o := range objs {
		if o.GetAnnotations()[infrav1.SkipCloudCleanupAnnotation] == "true" {
			return true
		}
	}
	return false
}
