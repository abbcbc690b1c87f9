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
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	infrav1 "github.com/vpsieinc/cluster-api-provider-vpsie/api/v1alpha1"
)

// +kubebuilder:webhook:verbs=create;update,path=/mutate-infrastructure-cluster-x-k8s-io-v1alpha1-vpsiemachine,mutating=true,failurePolicy=fail,sideEffects=None,groups=infrastructure.cluster.x-k8s.io,resources=vpsiemachines,versions=v1alpha1,name=default.vpsiemachine.infrastructure.cluster.x-k8s.io,admissionReviewVersions=v1
// +kubebuilder:webhook:verbs=create;update,path=/validate-infrastructure-cluster-x-k8s-io-v1alpha1-vpsiemachine,mutating=false,failurePolicy=fail,sideEffects=None,groups=infrastructure.cluster.x-k8s.io,resources=vpsiemachines,versions=v1alpha1,name=validation.vpsiemachine.infrastructure.cluster.x-k8s.io,admissionReviewVersions=v1

// VPSieMachine defaults and validates VPSieMachines.
type VPSieMachine struct{}

// Default fills the spec's defaults.
func (VPSieMachine) Default(_ context.Context, m *infrav1.VPSieMachine) error {
	m.Spec.Default()
	return nil
}

// ValidateCreate checks a new VPSieMachine.
func (VPSieMachine) ValidateCreate(_ context.Context, m *infrav1.VPSieMachine) (admission.Warnings, error) {
	return nil, invalid("VPSieMachine", m, validateMachineSpec(field.NewPath("spec"), &m.Spec))
}

// ValidateUpdate checks a changed VPSieMachine. Servers are replaced, not changed: the whole spec is immutable
// except spec.providerID, which may be set once.
func (VPSieMachine) ValidateUpdate(_ context.Context, oldMachine, newMachine *infrav1.VPSieMachine) (admission.Warnings, error) {
	spec := field.NewPath("spec")
	errs := ratchet(validateMachineSpec(spec, &oldMachine.Spec), validateMachineSpec(spec, &newMachine.Spec))
	oldSpec, newSpec := oldMachine.Spec.DeepCopy(), newMachine.Spec.DeepCopy()
	oldSpec.Default()
	newSpec.Default()
	if oldSpec.ProviderID != "" && oldSpec.ProviderID != newSpec.ProviderID {
		errs = append(errs, field.Forbidden(spec.Child("providerID"), "providerID cannot change once set"))
	}
	oldSpec.ProviderID, newSpec.ProviderID = "", ""
	if len(errs) == 0 {
		errs = append(errs, immutableWithHint(spec, oldSpec, newSpec,
			"a VPSieMachine's spec cannot change: change the VPSieMachineTemplate and let Cluster API roll the machines")...)
	}
	return nil, invalid("VPSieMachine", newMachine, errs)
}

// ValidateDelete allows every delete.
func (VPSieMachine) ValidateDelete(context.Context, *infrav1.VPSieMachine) (admission.Warnings, error) {
	return nil, nil
}

func validateMachineSpec(path *field.Path, s *infrav1.VPSieMachineSpec) field.ErrorList {
	var errs field.ErrorList
	if s.Plan == "" {
		errs = append(errs, field.Required(path.Child("plan"), "set the identifier of a VPSie plan (see the VPSie console or the plans list)"))
	}
	if s.Image == "" {
		errs = append(errs, field.Required(path.Child("image"), "set the identifier of a VPSie OS image with cloud-init"))
	}
	if s.ProviderID != "" && (!strings.HasPrefix(s.ProviderID, infrav1.ProviderIDPrefix) || len(s.ProviderID) == len(infrav1.ProviderIDPrefix)) {
		errs = append(errs, field.Invalid(path.Child("providerID"), s.ProviderID, "must look like vpsie://<server identifier>"))
	}
	if s.IgnoreClusterSSHKeys != nil && *s.IgnoreClusterSSHKeys && len(s.SSHKeys) == 0 {
		errs = append(errs, field.Required(path.Child("sshKeys"),
			"ignoreClusterSSHKeys leaves the server with no SSH key: list at least one key or drop ignoreClusterSSHKeys"))
	}
	errs = append(errs, validateAdditionalCloudInit(path.Child("additionalCloudInit"), s.AdditionalCloudInit)...)
	return errs
}

// immutableWithHint reports a change at path with a message that says what to do instead.
func immutableWithHint(path *field.Path, oldValue, newValue any, hint string) field.ErrorList {
	if errs := immutable(path, oldValue, newValue); len(errs) > 0 {
		return field.ErrorList{field.Forbidden(path, hint)}
	}
	return nil
}
