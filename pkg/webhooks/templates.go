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

package webhooks

import (
	"context"

	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	infrav1 "github.com/vpsieinc/cluster-api-provider-vpsie/api/v1alpha1"
)

// +kubebuilder:webhook:verbs=create;update,path=/mutate-infrastructure-cluster-x-k8s-io-v1alpha1-vpsiemachinetemplate,mutating=true,failurePolicy=fail,sideEffects=None,groups=infrastructure.cluster.x-k8s.io,resources=vpsiemachinetemplates,versions=v1alpha1,name=default.vpsiemachinetemplate.infrastructure.cluster.x-k8s.io,admissionReviewVersions=v1
// +kubebuilder:webhook:verbs=create;update,path=/validate-infrastructure-cluster-x-k8s-io-v1alpha1-vpsiemachinetemplate,mutating=false,failurePolicy=fail,sideEffects=None,groups=infrastructure.cluster.x-k8s.io,resources=vpsiemachinetemplates,versions=v1alpha1,name=validation.vpsiemachinetemplate.infrastructure.cluster.x-k8s.io,admissionReviewVersions=v1
// +kubebuilder:webhook:verbs=create;update,path=/mutate-infrastructure-cluster-x-k8s-io-v1alpha1-vpsieclustertemplate,mutating=true,failurePolicy=fail,sideEffects=None,groups=infrastructure.cluster.x-k8s.io,resources=vpsieclustertemplates,versions=v1alpha1,name=default.vpsieclustertemplate.infrastructure.cluster.x-k8s.io,admissionReviewVersions=v1
// +kubebuilder:webhook:verbs=create;update,path=/validate-infrastructure-cluster-x-k8s-io-v1alpha1-vpsieclustertemplate,mutating=false,failurePolicy=fail,sideEffects=None,groups=infrastructure.cluster.x-k8s.io,resources=vpsieclustertemplates,versions=v1alpha1,name=validation.vpsieclustertemplate.infrastructure.cluster.x-k8s.io,admissionReviewVersions=v1

// templateImmutableHint is what a user should do instead of editing a template in place.
const templateImmutableHint = "templates are immutable: create a new template and point the MachineDeployment, " +
	"control plane or ClusterClass at it"

// VPSieMachineTemplate defaults and validates VPSieMachineTemplates.
type VPSieMachineTemplate struct{}

// Default fills the template's machine spec defaults, the same as a VPSieMachine's, so that rollouts do not
// see a difference between a template and the machines made from it.
func (VPSieMachineTemplate) Default(_ context.Context, t *infrav1.VPSieMachineTemplate) error {
	t.Spec.Template.Spec.Default()
	return nil
}

// ValidateCreate checks a new template.
func (VPSieMachineTemplate) ValidateCreate(_ context.Context, t *infrav1.VPSieMachineTemplate) (admission.Warnings, error) {
	return nil, invalid("VPSieMachineTemplate", t, validateMachineTemplateSpec(&t.Spec.Template.Spec))
}

// ValidateUpdate keeps the template spec immutable, except for Cluster API topology's SSA dry-run requests.
func (VPSieMachineTemplate) ValidateUpdate(ctx context.Context, oldT, newT *infrav1.VPSieMachineTemplate) (admission.Warnings, error) {
	errs := ratchet(validateMachineTemplateSpec(&oldT.Spec.Template.Spec), validateMachineTemplateSpec(&newT.Spec.Template.Spec))
	dryRun, err := isTopologyDryRun(ctx, newT)
	if err != nil {
		return nil, err
	}
	if !dryRun {
		oldSpec, newSpec := oldT.Spec.Template.Spec.DeepCopy(), newT.Spec.Template.Spec.DeepCopy()
		oldSpec.Default()
		newSpec.Default()
		errs = append(errs, immutableWithHint(field.NewPath("spec", "template", "spec"), oldSpec, newSpec, templateImmutableHint)...)
	}
	return nil, invalid("VPSieMachineTemplate", newT, errs)
}

// ValidateDelete allows every delete.
func (VPSieMachineTemplate) ValidateDelete(context.Context, *infrav1.VPSieMachineTemplate) (admission.Warnings, error) {
	return nil, nil
}

func validateMachineTemplateSpec(s *infrav1.VPSieMachineSpec) field.ErrorList {
	path := field.NewPath("spec", "template", "spec")
	errs := validateMachineSpec(path, s)
	if s.ProviderID != "" {
		errs = append(errs, field.Forbidden(path.Child("providerID"), "a template cannot name a server: leave providerID empty"))
	}
	return errs
}

// VPSieClusterTemplate defaults and validates VPSieClusterTemplates.
type VPSieClusterTemplate struct{}

// Default fills the template's cluster spec defaults.
func (VPSieClusterTemplate) Default(_ context.Context, t *infrav1.VPSieClusterTemplate) error {
	t.Spec.Template.Spec.Default()
	return nil
}

// ValidateCreate checks a new template.
func (VPSieClusterTemplate) ValidateCreate(_ context.Context, t *infrav1.VPSieClusterTemplate) (admission.Warnings, error) {
	return nil, invalid("VPSieClusterTemplate", t, validateClusterSpec(field.NewPath("spec", "template", "spec"), &t.Spec.Template.Spec))
}

// ValidateUpdate keeps the template spec immutable, except for Cluster API topology's SSA dry-run requests.
func (VPSieClusterTemplate) ValidateUpdate(ctx context.Context, oldT, newT *infrav1.VPSieClusterTemplate) (admission.Warnings, error) {
	path := field.NewPath("spec", "template", "spec")
	errs := ratchet(validateClusterSpec(path, &oldT.Spec.Template.Spec), validateClusterSpec(path, &newT.Spec.Template.Spec))
	dryRun, err := isTopologyDryRun(ctx, newT)
	if err != nil {
		return nil, err
	}
	if !dryRun {
		oldSpec, newSpec := oldT.Spec.Template.Spec.DeepCopy(), newT.Spec.Template.Spec.DeepCopy()
		oldSpec.Default()
		newSpec.Default()
		errs = append(errs, immutableWithHint(path, oldSpec, newSpec, templateImmutableHint)...)
	}
	return nil, invalid("VPSieClusterTemplate", newT, errs)
}

// ValidateDelete allows every delete.
func (VPSieClusterTemplate) ValidateDelete(context.Context, *infrav1.VPSieClusterTemplate) (admission.Warnings, error) {
	return nil, nil
}
