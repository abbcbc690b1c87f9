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
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	. "github.com/onsi/gomega"
	admissionv1 "k8s.io/api/admission/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	infrav1 "github.com/vpsieinc/cluster-api-provider-vpsie/api/v1alpha1"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/cloudinit"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/services/vpcs"
)

// These fuzz targets call the validators directly, without the API server the other tests of the package
// use (its TestMain still starts one: internal and external test files share one test binary). The CRD
// schema and its CEL rules run before a webhook and refuse much of what is fuzzed here, but the webhook must
// hold up on its own: it also serves objects the schema let through, and its messages are what kubectl shows.
// So: no panic, every refusal an Invalid status error whose causes name a field and say what is wrong, the
// refusals the rules call for (worked out here independently: a rule added to the webhook is added to
// machineCauses or clusterCauses too), and an update that changes nothing, or only fills defaults, never
// refused for more than the create (ratcheting may refuse it for less: an object stored before a rule
// existed must still lose its finalizer).

// invalidCauses checks that err is the API's Invalid status error for kind and name, with causes that each
// name a field and carry a message, and returns the causes as "field: type" entries.
func invalidCauses(g Gomega, err error, kind, name string) []string {
	var se *apierrors.StatusError
	g.Expect(errors.As(err, &se)).To(BeTrue(), "%T is not a StatusError: %v", err, err)
	st := se.ErrStatus
	g.Expect(st.Reason).To(Equal(metav1.StatusReasonInvalid), "%v", err)
	g.Expect(st.Code).To(BeEquivalentTo(422))
	g.Expect(st.Message).NotTo(BeEmpty())
	g.Expect(utf8.ValidString(st.Message)).To(BeTrue(), "message %q is not UTF-8", st.Message)
	g.Expect(st.Details).NotTo(BeNil())
	g.Expect(st.Details.Kind).To(Equal(kind))
	g.Expect(st.Details.Group).To(Equal(infrav1.GroupVersion.Group))
	g.Expect(st.Details.Name).To(Equal(name))
	g.Expect(st.Details.Causes).NotTo(BeEmpty(), "a refusal without a cause: %v", err)
	var out []string
	for _, c := range st.Details.Causes {
		g.Expect(c.Field).NotTo(BeEmpty(), "cause without a field: %+v", c)
		g.Expect(c.Message).NotTo(BeEmpty(), "cause without a message: %+v", c)
		g.Expect(utf8.ValidString(c.Message)).To(BeTrue(), "cause message %q is not UTF-8", c.Message)
		out = append(out, c.Field+": "+string(c.Type))
	}
	return out
}

// causesOf is invalidCauses for a result that may be an acceptance (nil: no causes).
func causesOf(g Gomega, err error, kind, name string) []string {
	if err == nil {
		return nil
	}
	return invalidCauses(g, err, kind, name)
}

// subsetOf matches a list of causes whose every element is in want (an empty list too).
func subsetOf(want []string) OmegaMatcher {
	if len(want) == 0 {
		return BeEmpty()
	}
	return Or(BeEmpty(), HaveEach(BeElementOf(want)))
}

// withoutField splits causes into those of field and the others.
func withoutField(causes []string, field string) (others, ofField []string) {
	for _, c := range causes {
		if strings.HasPrefix(c, field+": ") {
			ofField = append(ofField, c)
		} else {
			others = append(others, c)
		}
	}
	return others, ofField
}

// lines splits newline-separated fuzzed text into at most 8 entries (none for empty text).
func lines(s string) []string {
	if s == "" {
		return nil
	}
	out := strings.Split(s, "\n")
	return out[:min(len(out), 8)]
}

// optionalBool maps two bits to nil, false or true.
func optionalBool(bits uint8) *bool {
	switch bits & 3 {
	case 1:
		return ptr.To(false)
	case 2, 3:
		return ptr.To(true)
	}
	return nil
}

// requestContext is the context of an admission request, dry-run or not, as the webhook server builds it.
func requestContext(dryRun bool) context.Context {
	return admission.NewContextWithRequest(context.Background(), admission.Request{
		AdmissionRequest: admissionv1.AdmissionRequest{Operation: admissionv1.Update, DryRun: ptr.To(dryRun)},
	})
}

func fuzzMachineSpec(plan, image, datacenter, providerID, sshKeys, cloudInit string, flags uint8) infrav1.VPSieMachineSpec {
	return infrav1.VPSieMachineSpec{
		ProviderID:           providerID,
		Plan:                 plan,
		Image:                image,
		Datacenter:           datacenter,
		SSHKeys:              lines(sshKeys),
		IgnoreClusterSSHKeys: optionalBool(flags),
		PublicIPv4:           optionalBool(flags >> 2),
		PrivateIP:            optionalBool(flags >> 4),
		Tags:                 lines(datacenter),
		AdditionalCloudInit:  cloudInit,
	}
}

// machineCauses is what a VPSieMachine spec must be refused for, worked out independently of the webhook,
// but for additionalCloudInit: checkCloudInitCauses looks at that one.
func machineCauses(path string, s infrav1.VPSieMachineSpec) []string {
	var out []string
	if s.Plan == "" {
		out = append(out, path+".plan: FieldValueRequired")
	}
	if s.Image == "" {
		out = append(out, path+".image: FieldValueRequired")
	}
	if id, ok := strings.CutPrefix(s.ProviderID, "vpsie://"); s.ProviderID != "" && (!ok || id == "") {
		out = append(out, path+".providerID: FieldValueInvalid")
	}
	if ptr.Deref(s.IgnoreClusterSSHKeys, false) && len(s.SSHKeys) == 0 {
		out = append(out, path+".sshKeys: FieldValueRequired")
	}
	return out
}

// checkMachineCauses compares the causes of a refused machine spec with machineCauses, and checks the
// additionalCloudInit ones: refused when cloud-init would not recognise it, never when it is empty, and, when
// accepted, buildable into user data with kubeadm's bootstrap data.
func checkMachineCauses(g Gomega, causes []string, path string, s infrav1.VPSieMachineSpec, extra ...string) {
	others, ofCloudInit := withoutField(causes, path+".additionalCloudInit")
	g.Expect(others).To(ConsistOf(append(machineCauses(path, s), extra...)))
	switch {
	case s.AdditionalCloudInit == "":
		g.Expect(ofCloudInit).To(BeEmpty())
	case cloudinit.Validate([]byte(s.AdditionalCloudInit)) != nil:
		g.Expect(ofCloudInit).To(Equal([]string{path + ".additionalCloudInit: FieldValueInvalid"}))
	case len(ofCloudInit) == 0:
		_, err := cloudinit.Build([]byte("#cloud-config\nruncmd: [kubeadm join]\n"),
			cloudinit.Part{Name: "additional-cloud-init", Content: []byte(s.AdditionalCloudInit)})
		g.Expect(err).NotTo(HaveOccurred(), "accepted additionalCloudInit that cannot be built into user data")
	default:
		g.Expect(ofCloudInit).To(Equal([]string{path + ".additionalCloudInit: FieldValueInvalid"}))
	}
}

// FuzzMachineValidation fuzzes the string fields of VPSieMachines and VPSieMachineTemplates.
func FuzzMachineValidation(f *testing.F) {
	type seed struct {
		name, plan, image, datacenter, providerID, sshKeys, cloudInit string
		flags                                                         uint8
		oldPlan                                                       string
	}
	for _, s := range []seed{
		{"webhook-probe", "plan-s", "ubuntu-24.04", "", "", "", "", 0, "plan-s"},
		{"no-plan", "", "ubuntu-24.04", "", "", "", "", 0, ""},
		{"no-image", "plan-s", "", "", "", "", "", 0, "plan-s"},
		{"foreign-id", "plan-s", "ubuntu-24.04", "", "aws:///i-123", "", "", 0, "plan-s"},
		{"empty-id", "plan-s", "ubuntu-24.04", "", "vpsie://", "", "", 0, "plan-s"},
		{"provider-id", "plan-s", "ubuntu-24.04", "", "vpsie://4b1d", "", "", 0, "plan-s"},
		{"bad-cloudinit", "plan-s", "ubuntu-24.04", "", "", "", "packages: [htop]", 0, "plan-s"},
		{"cloudinit", "plan-s", "ubuntu-24.04", "55f06b85-c9ee-11ed-a4cc-0050569c68dc", "", "", "#cloud-config\npackages: [htop]\n", 0x15, "plan-s"},
		{"script", "plan-s", "ubuntu-24.04", "dc-1", "", "key-1\nkey-2", "#!/bin/sh\necho hi\n", 0x2a, "plan-xl"},
		{"no-keys", "plan-s", "ubuntu-24.04", "", "", "", "", 2, "plan-s"},
		{"keys", "plan-s", "ubuntu-24.04", "", "", "ssh-ed25519 AAAA pasted key", "", 3, "plan-s"},
		{"immutable", "plan-xl", "ubuntu-24.04", "", "", "", "", 0, "plan-s"},
		{"Not A Name", "\x00", "\xff\xfe", "dc 1\n\t", "vpsie://\xff", "\n\n", "#cloud-config" + strings.Repeat("é", 40), 0xff, "\x00"},
		{"", "p", "i", "", "VPSIE://x", "", "\u00e9" + strings.Repeat("x", 39) + "\u00e9\n#cloud-config", 0, "p"},
	} {
		f.Add(s.name, s.plan, s.image, s.datacenter, s.providerID, s.sshKeys, s.cloudInit, s.flags, s.oldPlan)
	}
	f.Fuzz(func(t *testing.T, name, plan, image, datacenter, providerID, sshKeys, cloudInit string, flags uint8, oldPlan string) {
		g := NewWithT(t)
		ctx := context.Background()
		spec := fuzzMachineSpec(plan, image, datacenter, providerID, sshKeys, cloudInit, flags)
		newMachine := func(s infrav1.VPSieMachineSpec) *infrav1.VPSieMachine {
			return &infrav1.VPSieMachine{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name}, Spec: *s.DeepCopy()}
		}
		const kind = "VPSieMachine"

		m := newMachine(spec)
		_, err := VPSieMachine{}.ValidateCreate(ctx, m)
		created := causesOf(g, err, kind, name)
		checkMachineCauses(g, created, "spec", spec)
		g.Expect(m.Spec).To(Equal(spec), "validation changes nothing")

		// An update that changes nothing, or only fills the defaults, is never refused for more than the create.
		_, err = VPSieMachine{}.ValidateUpdate(ctx, newMachine(spec), newMachine(spec))
		g.Expect(causesOf(g, err, kind, name)).To(subsetOf(created), "update without change")
		defaulted := newMachine(spec)
		g.Expect(VPSieMachine{}.Default(ctx, defaulted)).To(Succeed())
		_, err = VPSieMachine{}.ValidateUpdate(ctx, newMachine(spec), defaulted)
		g.Expect(causesOf(g, err, kind, name)).To(subsetOf(created), "update filling defaults")

		// providerID may be set once, never changed.
		unset := spec
		unset.ProviderID = ""
		_, err = VPSieMachine{}.ValidateUpdate(ctx, newMachine(unset), newMachine(spec))
		g.Expect(causesOf(g, err, kind, name)).To(subsetOf(created), "setting providerID")
		if spec.ProviderID != "" {
			other := spec
			other.ProviderID = spec.ProviderID + "-other"
			_, err = VPSieMachine{}.ValidateUpdate(ctx, newMachine(spec), newMachine(other))
			g.Expect(causesOf(g, err, kind, name)).To(ContainElement("spec.providerID: FieldValueForbidden"), "changing providerID")
		}
		// Any other change of a valid spec is refused at spec, with what to do instead.
		if oldPlan != plan && len(created) == 0 {
			old := spec
			old.Plan = oldPlan
			_, err = VPSieMachine{}.ValidateUpdate(ctx, newMachine(old), newMachine(spec))
			g.Expect(causesOf(g, err, kind, name)).To(Equal([]string{"spec: FieldValueForbidden"}), "changing the plan")
		}

		// The same spec in a template: refused for the same fields under spec.template.spec, and for any
		// providerID; immutable except in a topology dry-run.
		const tkind = "VPSieMachineTemplate"
		newTemplate := func(s infrav1.VPSieMachineSpec, annotations map[string]string) *infrav1.VPSieMachineTemplate {
			return &infrav1.VPSieMachineTemplate{
				ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, Annotations: annotations},
				Spec:       infrav1.VPSieMachineTemplateSpec{Template: infrav1.VPSieMachineTemplateResource{Spec: *s.DeepCopy()}},
			}
		}
		var templateOnly []string
		if spec.ProviderID != "" {
			templateOnly = append(templateOnly, "spec.template.spec.providerID: FieldValueForbidden")
		}
		_, err = VPSieMachineTemplate{}.ValidateCreate(ctx, newTemplate(spec, nil))
		tcreated := causesOf(g, err, tkind, name)
		checkMachineCauses(g, tcreated, "spec.template.spec", spec, templateOnly...)
		_, err = VPSieMachineTemplate{}.ValidateUpdate(requestContext(false), newTemplate(spec, nil), newTemplate(spec, nil))
		g.Expect(causesOf(g, err, tkind, name)).To(subsetOf(tcreated), "template update without change")
		if oldPlan != plan {
			old := spec
			old.Plan = oldPlan
			dryRun := map[string]string{clusterv1.TopologyDryRunAnnotation: ""}
			_, err = VPSieMachineTemplate{}.ValidateUpdate(requestContext(true), newTemplate(old, dryRun), newTemplate(spec, dryRun))
			g.Expect(causesOf(g, err, tkind, name)).To(subsetOf(tcreated), "topology dry-run")
			_, err = VPSieMachineTemplate{}.ValidateUpdate(requestContext(false), newTemplate(old, nil), newTemplate(spec, nil))
			causes := causesOf(g, err, tkind, name)
			g.Expect(causes).To(ContainElement("spec.template.spec: FieldValueForbidden"), "template change")
			g.Expect(causes).To(subsetOf(append(tcreated, "spec.template.spec: FieldValueForbidden")), "template change")
		}
	})
}

// identityRE is the form of a management-cluster identity (a tag suffix), written out independently.
var identityRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// clusterCauses is what a VPSieCluster spec (and identity annotation) must be refused for, worked out
// independently of the webhook.
func clusterCauses(path string, s infrav1.VPSieClusterSpec) []string {
	var out []string
	if s.CredentialsRef.Name == "" {
		out = append(out, path+".credentialsRef.name: FieldValueRequired")
	}
	if s.Datacenter == "" {
		out = append(out, path+".datacenter: FieldValueRequired")
	}
	if s.ControlPlaneLoadBalancer.Enabled != nil && !*s.ControlPlaneLoadBalancer.Enabled && s.ControlPlaneEndpoint.Host == "" {
		out = append(out, path+".controlPlaneEndpoint.host: FieldValueRequired")
	}
	seen := map[string]bool{}
	for i, fd := range s.FailureDomains {
		if seen[fd.Datacenter] {
			out = append(out, path+".failureDomains["+strconv.Itoa(i)+"].datacenter: FieldValueDuplicate")
		}
		seen[fd.Datacenter] = true
	}
	if cidr := s.Network.VPC.CIDR; cidr != "" {
		// What the webhook lets through, the VPC service must be able to create: a refusal at reconcile time
		// is seen by nobody but the controller's logs and a condition.
		if _, _, err := vpcs.SplitCIDR(cidr); err != nil {
			out = append(out, path+".network.vpc.cidr: FieldValueInvalid")
		}
		if s.Network.VPC.ID != "" {
			out = append(out, path+".network.vpc: FieldValueForbidden")
		}
	}
	return out
}

// FuzzClusterValidation fuzzes the string and port fields of VPSieClusters and VPSieClusterTemplates.
func FuzzClusterValidation(f *testing.F) {
	type seed struct {
		name, credentials, datacenter, cidr, vpcID, vpcName, host string
		port, endpointPort                                        int32
		failureDomains, identity                                  string
		flags                                                     uint8
		oldDatacenter, oldIdentity                                string
	}
	const dc = "55f06b85-c9ee-11ed-a4cc-0050569c68dc"
	for _, s := range []seed{
		{"valid", "vpsie-credentials", dc, "", "", "", "", 0, 0, "", "", 0, dc, ""},
		{"no-creds", "", dc, "", "", "", "", 0, 0, "", "", 0, dc, ""},
		{"no-dc", "vpsie-credentials", "", "", "", "", "", 0, 0, "", "", 0, "elsewhere", ""},
		{"no-endpoint", "vpsie-credentials", dc, "", "", "", "", 0, 0, "", "", 1, dc, ""},
		{"endpoint", "vpsie-credentials", dc, "", "", "", "203.0.113.10", 0, 6443, "", "", 1, dc, ""},
		{"vpc-both", "vpsie-credentials", dc, "10.42.0.0/16", "12", "", "", 6443, 0, "", "", 2, dc, ""},
		{"vpc-hostbits", "vpsie-credentials", dc, "10.42.0.1/16", "", "mine", "", 0, 0, "", "", 0, dc, ""},
		{"vpc-v6", "vpsie-credentials", dc, "fd00:42::/64", "", "", "", 0, 0, "", "", 0, dc, ""},
		{"vpc-padded", "vpsie-credentials", dc, " 10.42.0.0/16", "", "", "", 0, 0, "", "", 0, dc, ""},
		{"vpc-name", "vpsie-credentials", dc, "", "12", "mine", "", 0, 0, "", "", 0, dc, ""},
		{"vpc-junk", "vpsie-credentials", dc, "10.42.0.0/33", "", "", "", 0, 0, "", "", 0, dc, ""},
		{"fd-dup", "vpsie-credentials", dc, "", "", "", "", 0, 0, "a\na\nb\na", "", 0, dc, ""},
		{"fd-empty", "vpsie-credentials", dc, "", "", "", "", 0, 0, "\n", "", 0, dc, ""},
		{"identity", "vpsie-credentials", dc, "", "", "", "", 0, 0, "", "mgmt-a", 4, dc, "mgmt-a"},
		{"identity-bad", "vpsie-credentials", dc, "", "", "", "", 0, 0, "", "Not A Tag", 4, dc, ""},
		{"identity-changed", "vpsie-credentials", dc, "", "", "", "", 0, 0, "", "mgmt-b", 4, dc, "mgmt-a"},
		{"identity-removed", "vpsie-credentials", dc, "", "", "", "", 0, 0, "", "", 8, dc, "mgmt-a"},
		{"ports", "vpsie-credentials", dc, "", "", "", "203.0.113.10", -1, 70000, "", "", 0x31, dc, ""},
		{"provisioned", "other-secret", dc, "", "", "", "", 443, 0, "", "", 0x40, dc, ""},
		{"\xff", "\x00", "\xff", "\xff", "\n", "\t", "\u00e9", 2147483647, -2147483648, "\xff\n\xff", "\xff", 0xff, "\xff", "\xfe"},
	} {
		f.Add(s.name, s.credentials, s.datacenter, s.cidr, s.vpcID, s.vpcName, s.host, s.port, s.endpointPort,
			s.failureDomains, s.identity, s.flags, s.oldDatacenter, s.oldIdentity)
	}
	f.Fuzz(func(t *testing.T, name, credentials, datacenter, cidr, vpcID, vpcName, host string, port, endpointPort int32,
		failureDomains, identity string, flags uint8, oldDatacenter, oldIdentity string) {
		g := NewWithT(t)
		ctx := context.Background()
		spec := infrav1.VPSieClusterSpec{
			ControlPlaneEndpoint: clusterv1.APIEndpoint{Host: host, Port: endpointPort},
			CredentialsRef:       infrav1.SecretReference{Name: credentials},
			Datacenter:           datacenter,
			ControlPlaneLoadBalancer: infrav1.LoadBalancerSpec{
				Enabled: optionalBool(flags), Port: port, Plan: vpcName,
			},
			Network:   infrav1.NetworkSpec{VPC: infrav1.VPCSpec{ID: vpcID, CIDR: cidr, Name: vpcName}},
			SSHKeys:   lines(vpcName),
			Tags:      lines(name),
			ProjectID: vpcID,
		}
		for i, fd := range lines(failureDomains) {
			spec.FailureDomains = append(spec.FailureDomains, infrav1.FailureDomainSpec{Datacenter: fd, ControlPlane: optionalBool(uint8(i) ^ flags)})
		}
		var annotations map[string]string
		if flags&4 != 0 {
			annotations = map[string]string{infrav1.OwnerIdentityAnnotation: identity}
		}
		newCluster := func(s infrav1.VPSieClusterSpec, annotations map[string]string) *infrav1.VPSieCluster {
			c := &infrav1.VPSieCluster{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, Annotations: map[string]string{}}, Spec: *s.DeepCopy()}
			for k, v := range annotations {
				c.Annotations[k] = v
			}
			if flags&0x40 != 0 {
				// A cluster that has reached VPSie: what the credentials and endpoint checks look at.
				c.Status.Initialization.Provisioned = ptr.To(true)
				c.Status.LoadBalancer.Identifier = "lb-1"
			}
			return c
		}
		const kind = "VPSieCluster"

		want := clusterCauses("spec", spec)
		if id, ok := annotations[infrav1.OwnerIdentityAnnotation]; ok && !identityRE.MatchString(id) {
			want = append(want, "metadata.annotations[infrastructure.cluster.x-k8s.io/vpsie-owner-identity]: FieldValueInvalid")
		}
		c := newCluster(spec, annotations)
		_, err := VPSieCluster{}.ValidateCreate(ctx, c)
		g.Expect(causesOf(g, err, kind, name)).To(ConsistOf(want), "create")
		g.Expect(c.Spec).To(Equal(spec), "validation changes nothing")

		// An update that changes nothing, or only fills the defaults, is never refused for more than the create.
		_, err = VPSieCluster{}.ValidateUpdate(ctx, newCluster(spec, annotations), newCluster(spec, annotations))
		g.Expect(causesOf(g, err, kind, name)).To(subsetOf(want), "update without change")
		defaulted := newCluster(spec, annotations)
		g.Expect(VPSieCluster{}.Default(ctx, defaulted)).To(Succeed())
		_, err = VPSieCluster{}.ValidateUpdate(ctx, newCluster(spec, annotations), defaulted)
		g.Expect(causesOf(g, err, kind, name)).To(subsetOf(want), "update filling defaults")

		// What the cloud was built from cannot change.
		if oldDatacenter != datacenter {
			old := spec
			old.Datacenter = oldDatacenter
			_, err = VPSieCluster{}.ValidateUpdate(ctx, newCluster(old, annotations), newCluster(spec, annotations))
			g.Expect(causesOf(g, err, kind, name)).To(ContainElement("spec.datacenter: FieldValueForbidden"), "changing the datacenter")
		}
		// A recorded identity can be neither changed nor removed; one may be recorded later.
		if flags&8 != 0 {
			old := map[string]string{infrav1.OwnerIdentityAnnotation: oldIdentity}
			_, err = VPSieCluster{}.ValidateUpdate(ctx, newCluster(spec, old), newCluster(spec, annotations))
			causes := causesOf(g, err, kind, name)
			forbidden := "metadata.annotations[infrastructure.cluster.x-k8s.io/vpsie-owner-identity]: FieldValueForbidden"
			if annotations[infrav1.OwnerIdentityAnnotation] != oldIdentity {
				g.Expect(causes).To(ContainElement(forbidden), "changing a recorded identity")
			} else {
				g.Expect(causes).NotTo(ContainElement(forbidden))
			}
			_, err = VPSieCluster{}.ValidateUpdate(ctx, newCluster(spec, nil), newCluster(spec, annotations))
			g.Expect(causesOf(g, err, kind, name)).To(subsetOf(want), "recording an identity")
		}

		// The same spec in a template, immutable except in a topology dry-run.
		const tkind = "VPSieClusterTemplate"
		newTemplate := func(s infrav1.VPSieClusterSpec, annotations map[string]string) *infrav1.VPSieClusterTemplate {
			return &infrav1.VPSieClusterTemplate{
				ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, Annotations: annotations},
				Spec:       infrav1.VPSieClusterTemplateSpec{Template: infrav1.VPSieClusterTemplateResource{Spec: *s.DeepCopy()}},
			}
		}
		twant := clusterCauses("spec.template.spec", spec)
		_, err = VPSieClusterTemplate{}.ValidateCreate(ctx, newTemplate(spec, nil))
		g.Expect(causesOf(g, err, tkind, name)).To(ConsistOf(twant), "template create")
		_, err = VPSieClusterTemplate{}.ValidateUpdate(requestContext(false), newTemplate(spec, nil), newTemplate(spec, nil))
		g.Expect(causesOf(g, err, tkind, name)).To(subsetOf(twant), "template update without change")
		if oldDatacenter != datacenter {
			old := spec
			old.Datacenter = oldDatacenter
			dryRun := map[string]string{clusterv1.TopologyDryRunAnnotation: ""}
			_, err = VPSieClusterTemplate{}.ValidateUpdate(requestContext(true), newTemplate(old, dryRun), newTemplate(spec, dryRun))
			g.Expect(causesOf(g, err, tkind, name)).To(subsetOf(twant), "topology dry-run")
			_, err = VPSieClusterTemplate{}.ValidateUpdate(requestContext(false), newTemplate(old, nil), newTemplate(spec, nil))
			causes := causesOf(g, err, tkind, name)
			g.Expect(causes).To(ContainElement("spec.template.spec: FieldValueForbidden"), "template change")
			g.Expect(causes).To(subsetOf(append(twant, "spec.template.spec: FieldValueForbidden")), "template change")
		}
	})
}

// TestTemplateUpdateWithoutRequest pins what the template validators answer when the admission request is
// missing from the context (the webhook server always puts it there): a BadRequest that says so, not a panic.
func TestTemplateUpdateWithoutRequest(t *testing.T) {
	g := NewWithT(t)
	_, err := VPSieMachineTemplate{}.ValidateUpdate(context.Background(), &infrav1.VPSieMachineTemplate{}, &infrav1.VPSieMachineTemplate{})
	g.Expect(apierrors.IsBadRequest(err)).To(BeTrue(), "%v", err)
	g.Expect(err.Error()).To(ContainSubstring("admission request"))
	_, err = VPSieClusterTemplate{}.ValidateUpdate(context.Background(), &infrav1.VPSieClusterTemplate{}, &infrav1.VPSieClusterTemplate{})
	g.Expect(apierrors.IsBadRequest(err)).To(BeTrue(), "%v", err)
}
