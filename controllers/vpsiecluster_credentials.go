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
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	kerrors "k8s.io/apimachinery/pkg/util/errors"
	"sigs.k8s.io/cluster-api/util/conditions"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	infrav1 "github.com/vpsieinc/cluster-api-provider-vpsie/api/v1alpha1"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/metrics"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/scope"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/services"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/vpsie"
)

// CredentialsRefIndex indexes VPSieClusters by the name of their credentials Secret.
const CredentialsRefIndex = "spec.credentialsRef.name"

func credentialsRefOf(o client.Object) []string {
	vc, ok := o.(*infrav1.VPSieCluster)
	if !ok || vc.Spec.CredentialsRef.Name == "" {
		return nil
	}
	return []string{vc.Spec.CredentialsRef.Name}
}

// protectSecret puts the credentials finalizer on a Secret a live VPSieCluster uses, so the Secret cannot be
// deleted before the cluster's cloud resources are.
func (r *VPSieClusterReconciler) protectSecret(ctx context.Context, secret *corev1.Secret) error {
	if !secret.DeletionTimestamp.IsZero() || controllerutil.ContainsFinalizer(secret, infrav1.CredentialsFinalizer) {
		return nil
	}
	original := secret.DeepCopy()
	controllerutil.AddFinalizer(secret, infrav1.CredentialsFinalizer)
	if err := r.Client.Patch(ctx, secret, client.MergeFromWithOptions(original, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("adding the credentials finalizer to Secret %s: %w", client.ObjectKeyFromObject(secret), err)
	}
	return nil
}

// recordProtectedSecret records on the VPSieCluster the Secret that is to carry its credentials finalizer,
// before the finalizer is put on, and releases the Secret recorded before when the cluster was pointed at
// another one (allowed only before VPSie was reached, see the webhook). Recorded first, then protected: a
// crash in between leaves no finalizer that nothing remembers. Without the record, finding the Secrets to
// release would mean listing the Secrets of the namespace, which the manager may not do.
func (r *VPSieClusterReconciler) recordProtectedSecret(ctx context.Context, vc *infrav1.VPSieCluster) (bool, error) {
	current := vc.Spec.CredentialsRef.Name
	previous, recorded := vc.Annotations[infrav1.ProtectedCredentialsAnnotation]
	if recorded && previous == current {
		return false, nil
	}
	if previous != "" {
		if err := r.releaseSecret(ctx, vc, previous); err != nil {
			return false, err
		}
	}
	before := vc.DeepCopy()
	if vc.Annotations == nil {
		vc.Annotations = map[string]string{}
	}
	vc.Annotations[infrav1.ProtectedCredentialsAnnotation] = current
	if err := r.Client.Patch(ctx, vc, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
		return false, fmt.Errorf("recording the credentials Secret: %w", err)
	}
	return true, nil
}

// releaseCredentials releases the Secrets a deleted VPSieCluster protected: the current one and, after a
// crash in the middle of a switch, the recorded one.
func (r *VPSieClusterReconciler) releaseCredentials(ctx context.Context, vc *infrav1.VPSieCluster) error {
	if recorded := vc.Annotations[infrav1.ProtectedCredentialsAnnotation]; recorded != "" && recorded != vc.Spec.CredentialsRef.Name {
		if err := r.releaseSecret(ctx, vc, recorded); err != nil {
			return err
		}
	}
	return r.releaseSecret(ctx, vc, vc.Spec.CredentialsRef.Name)
}

// releaseSecret removes the credentials finalizer from the Secret of that name in the VPSieCluster's namespace
// unless another VPSieCluster of the namespace (live or deleting) still uses it, and forgets its API client.
func (r *VPSieClusterReconciler) releaseSecret(ctx context.Context, vc *infrav1.VPSieCluster, name string) error {
	key := types.NamespacedName{Namespace: vc.Namespace, Name: name}
	list := &infrav1.VPSieClusterList{}
	if err := r.Client.List(ctx, list, client.InNamespace(key.Namespace), client.MatchingFields{CredentialsRefIndex: key.Name}); err != nil {
		return fmt.Errorf("listing the VPSieClusters of Secret %s: %w", key, err)
	}
	for i := range list.Items {
		if list.Items[i].Name != vc.Name {
			return nil
		}
	}
	if f, ok := r.Accounts.(interface{ Forget(types.NamespacedName) }); ok {
		f.Forget(key)
	}
	secret := &corev1.Secret{}
	if err := r.Client.Get(ctx, key, secret); err != nil {
		return client.IgnoreNotFound(err)
	}
	original := secret.DeepCopy()
	if !controllerutil.RemoveFinalizer(secret, infrav1.CredentialsFinalizer) {
		return nil
	}
	if err := r.Client.Patch(ctx, secret, client.MergeFromWithOptions(original, client.MergeFromWithOptimisticLock{})); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("removing the credentials finalizer from Secret %s: %w", key, err)
	}
	ctrl.LoggerFrom(ctx).Info("Released a credentials Secret", "secret", key.Name)
	return nil
}

// credentialsProblem reports a missing or malformed credentials Secret and reads it again after
// CredentialsRecheck (Secrets are not watched).
func (r *VPSieClusterReconciler) credentialsProblem(vc *infrav1.VPSieCluster, err error, hint string) ctrl.Result {
	reason := infrav1.CredentialsInvalidReason
	if errors.Is(err, scope.ErrCredentialsNotFound) {
		reason = infrav1.CredentialsNotFoundReason
	}
	metrics.ReconcileErrors.WithLabelValues(clusterControllerName, string(vpsie.ClassTerminal)).Inc()
	r.setCredentials(vc, metav1.ConditionFalse, reason, err.Error()+hint)
	return ctrl.Result{RequeueAfter: r.credentialsRecheck()}
}

func (r *VPSieClusterReconciler) credentialsRecheck() time.Duration {
	return services.OrDefault(r.CredentialsRecheck, DefaultCredentialsRecheck)
}

// setCredentialsCondition sets CredentialsReady after the cloud calls: False when VPSie refused the
// credentials, True otherwise.
func (r *VPSieClusterReconciler) setCredentialsCondition(vc *infrav1.VPSieCluster, unauthorized error, hint string) {
	secret := vc.Namespace + "/" + vc.Spec.CredentialsRef.Name
	if unauthorized != nil {
		r.setCredentials(vc, metav1.ConditionFalse, infrav1.CredentialsInvalidReason,
			"VPSie refused the credentials of Secret "+secret+": "+unauthorized.Error()+
				"; put valid credentials into the Secret (they are picked up without a restart)"+hint)
		return
	}
	r.setCredentials(vc, metav1.ConditionTrue, infrav1.CredentialsValidReason, "using the credentials of Secret "+secret)
}

func (r *VPSieClusterReconciler) setCredentials(vc *infrav1.VPSieCluster, status metav1.ConditionStatus, reason, message string) {
	if old := conditions.Get(vc, infrav1.CredentialsReadyCondition); status == metav1.ConditionFalse &&
		(old == nil || old.Status != status || old.Reason != reason) {
		r.event(vc, corev1.EventTypeWarning, reason, "Reconcile", "%s", message)
	}
	conditions.Set(vc, metav1.Condition{Type: infrav1.CredentialsReadyCondition, Status: status, Reason: reason, Message: message})
}

// outcome gathers the results of several service calls into one reconcile result.
type outcome struct {
	after        time.Duration
	errs         []error
	unauthorized error
}

// requeue asks to come back after d (the shortest request wins).
func (o *outcome) requeue(d time.Duration) {
	if d > 0 && (o.after == 0 || d < o.after) {
		o.after = d
	}
}

// fail turns a service error into its condition, a metric and a requeue (services.HandleError).
func (o *outcome) fail(vc *infrav1.VPSieCluster, conditionType, action string, err error) {
	out := services.HandleError(vc, conditionType, action, err)
	class := string(out.Class)
	if class == "" {
		class = "Other"
	}
	metrics.ReconcileErrors.WithLabelValues(clusterControllerName, class).Inc()
	if vpsie.IsUnauthorized(err) {
		o.unauthorized = err
	}
	if out.Err != nil {
		o.errs = append(o.errs, out.Err)
		return
	}
	o.requeue(out.RequeueAfter)
}

func (o *outcome) result() (ctrl.Result, error) {
	if len(o.errs) > 0 {
		return ctrl.Result{}, kerrors.NewAggregate(o.errs)
	}
	return ctrl.Result{RequeueAfter: o.after}, nil
}
