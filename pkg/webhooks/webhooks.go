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

// Package webhooks holds the defaulting and validating admission webhooks of the provider's kinds. Messages
// name the field and say what to do: they are what a user sees when kubectl apply fails.
package webhooks

import (
	"context"
	"strings"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/cluster-api/util/topology"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	infrav1 "github.com/vpsieinc/cluster-api-provider-vpsie/api/v1alpha1"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/cloudinit"
)

// SetupWithManager registers every webhook of the provider with the manager's webhook server.
func SetupWithManager(mgr ctrl.Manager) error {
	if err := ctrl.NewWebhookManagedBy(mgr, &infrav1.VPSieCluster{}).
		WithDefaulter(VPSieCluster{}).WithValidator(VPSieCluster{}).Complete(); err != nil {
		return err
	}
	if err := ctrl.NewWebhookManagedBy(mgr, &infrav1.VPSieClusterTemplate{}).
		WithDefaulter(VPSieClusterTemplate{}).WithValidator(VPSieClusterTemplate{}).Complete(); err != nil {
		return err
	}
	if err := ctrl.NewWebhookManagedBy(mgr, &infrav1.VPSieMachine{}).
		WithDefaulter(VPSieMachine{}).WithValidator(VPSieMachine{}).Complete(); err != nil {
		return err
	}
	return ctrl.NewWebhookManagedBy(mgr, &infrav1.VPSieMachineTemplate{}).
		WithDefaulter(VPSieMachineTemplate{}).WithValidator(VPSieMachineTemplate{}).Complete()
}

func groupKind(kind string) schema.GroupKind {
	return schema.GroupKind{Group: infrav1.GroupVersion.Group, Kind: kind}
}

// invalid turns a field error list into the API's Invalid status error, or nil.
func invalid(kind string, obj client.Object, errs field.ErrorList) error {
	if len(errs) == 0 {
		return nil
	}
	return apierrors.NewInvalid(groupKind(kind), obj.GetName(), errs)
}

// isTopologyDryRun tells whether Cluster API's topology controller is dry-running a server-side apply,
// during which template immutability must not be enforced (the contract's "support for SSA dry run").
func isTopologyDryRun(ctx context.Context, obj client.Object) (bool, error) {
	req, err := admission.RequestFromContext(ctx)
	if err != nil {
		return false, apierrors.NewBadRequest("admission request missing from context")
	}
	return topology.IsDryRunRequest(req, obj), nil
}

// immutable reports a change between old and new at path.
func immutable(path *field.Path, oldValue, newValue any) field.ErrorList {
	if equality.Semantic.DeepEqual(oldValue, newValue) {
		return nil
	}
	return field.ErrorList{field.Forbidden(path, "field is immutable")}
}

func validateAdditionalCloudInit(path *field.Path, data string) field.ErrorList {
	if data == "" {
		return nil
	}
	if err := cloudinit.Validate([]byte(data)); err != nil {
		return field.ErrorList{field.Invalid(path, firstLine(data), err.Error())}
	}
	return nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return s
}
