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
	"testing"

	. "github.com/onsi/gomega"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	infrav1 "github.com/vpsieinc/cluster-api-provider-vpsie/api/v1alpha1"
)

// An object stored before a webhook rule existed cannot be sent through the API server any more, so these call
// the validators directly, as the API server would on an update of such an object.

// storedBeforeTheRules is a machine spec today's rules refuse: extra cloud-config that is not YAML.
func storedBeforeTheRules() infrav1.VPSieMachineSpec {
	return infrav1.VPSieMachineSpec{Plan: "plan-s", Image: "ubuntu-24.04", PublicIPv4: ptr.To(true),
		AdditionalCloudInit: "#cloud-config\nruncmd: [date\n"}
}

func TestOldInvalidMachineCanStillLoseItsFinalizer(t *testing.T) {
	g := NewWithT(t)
	old := &infrav1.VPSieMachine{ObjectMeta: metav1.ObjectMeta{Name: "m", Finalizers: []string{"vpsiemachine.infrastructure.cluster.x-k8s.io"}},
		Spec: storedBeforeTheRules()}
	deleting := old.DeepCopy()
	deleting.Finalizers = nil
	_, err := VPSieMachine{}.ValidateUpdate(context.Background(), old, deleting)
	g.Expect(err).NotTo(HaveOccurred(), "removing the finalizer of a machine the rules would refuse today")

	// Setting providerID once is the controller's other update; it must pass too.
	withID := old.DeepCopy()
	withID.Spec.ProviderID = "vpsie://4b1d"
	_, err = VPSieMachine{}.ValidateUpdate(context.Background(), old, withID)
	g.Expect(err).NotTo(HaveOccurred())

	// A change of the bad field is checked again: its error reads differently.
	worse := old.DeepCopy()
	worse.Spec.AdditionalCloudInit = "#cloud-config\n- a list\n"
	_, err = VPSieMachine{}.ValidateUpdate(context.Background(), old, worse)
	g.Expect(err).To(MatchError(ContainSubstring("must be a YAML mapping")))
}

func TestOldInvalidTemplateCanStillBeRelabelled(t *testing.T) {
	g := NewWithT(t)
	// The template validators read the admission request (for topology dry-runs).
	ctx := admission.NewContextWithRequest(context.Background(), admission.Request{
		AdmissionRequest: admissionv1.AdmissionRequest{Operation: admissionv1.Update}})
	old := &infrav1.VPSieMachineTemplate{ObjectMeta: metav1.ObjectMeta{Name: "t"},
		Spec: infrav1.VPSieMachineTemplateSpec{Template: infrav1.VPSieMachineTemplateResource{Spec: storedBeforeTheRules()}}}
	relabelled := old.DeepCopy()
	relabelled.Labels = map[string]string{"team": "a"}
	_, err := VPSieMachineTemplate{}.ValidateUpdate(ctx, old, relabelled)
	g.Expect(err).NotTo(HaveOccurred())
}

func TestRatchetKeepsNewErrors(t *testing.T) {
	g := NewWithT(t)
	oldErrs := validateMachineSpec(nil, &infrav1.VPSieMachineSpec{Plan: "p", Image: "i", AdditionalCloudInit: "junk"})
	newErrs := validateMachineSpec(nil, &infrav1.VPSieMachineSpec{Plan: "p", AdditionalCloudInit: "junk"})
	g.Expect(oldErrs).To(HaveLen(1))
	g.Expect(newErrs).To(HaveLen(2))
	kept := ratchet(oldErrs, newErrs)
	g.Expect(kept).To(HaveLen(1))
	g.Expect(kept[0].Field).To(Equal("image"))
}
