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
	"fmt"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/cluster-api/util/conditions"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	infrav1 "github.com/vpsieinc/cluster-api-provider-vpsie/api/v1alpha1"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/scope"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/services/firewalls"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/services/vpcs"
)

// +kubebuilder:webhook:verbs=create;update,path=/mutate-infrastructure-cluster-x-k8s-io-v1alpha1-vpsiecluster,mutating=true,failurePolicy=fail,sideEffects=None,groups=infrastructure.cluster.x-k8s.io,resources=vpsieclusters,versions=v1alpha1,name=default.vpsiecluster.infrastructure.cluster.x-k8s.io,admissionReviewVersions=v1
// +kubebuilder:webhook:verbs=create;update,path=/validate-infrastructure-cluster-x-k8s-io-v1alpha1-vpsiecluster,mutating=false,failurePolicy=fail,sideEffects=None,groups=infrastructure.cluster.x-k8s.io,resources=vpsieclusters,versions=v1alpha1,name=validation.vpsiecluster.infrastructure.cluster.x-k8s.io,admissionReviewVersions=v1

// VPSieCluster defaults and validates VPSieClusters.
type VPSieCluster struct{}

// Default fills the spec's defaults.
func (VPSieCluster) Default(_ context.Context, c *infrav1.VPSieCluster) error {
	c.Spec.Default()
	return nil
}

// ValidateCreate checks a new VPSieCluster.
func (VPSieCluster) ValidateCreate(_ context.Context, c *infrav1.VPSieCluster) (admission.Warnings, error) {
	errs := validateClusterSpec(field.NewPath("spec"), &c.Spec)
	errs = append(errs, validateOwnerIdentity(c.Annotations)...)
	return firewallWarnings(&c.Spec), invalid("VPSieCluster", c, errs)
}

// ownerIdentityPath is where the recorded management-cluster identity lives.
var ownerIdentityPath = field.NewPath("metadata", "annotations").Key(infrav1.OwnerIdentityAnnotation)

// validateOwnerIdentity checks a recorded identity's form (a user may set it at creation, e.g. to restore
// objects whose resources a lost management cluster made).
func validateOwnerIdentity(annotations map[string]string) field.ErrorList {
	id, ok := annotations[infrav1.OwnerIdentityAnnotation]
	if !ok {
		return nil
	}
	if err := scope.ValidateIdentity(id); err != nil {
		return field.ErrorList{field.Invalid(ownerIdentityPath, id, err.Error())}
	}
	return nil
}

// ownerIdentityUnchanged forbids changing or removing a recorded identity: every name of the cluster's VPSie
// resources is derived from it, so a change would make the provider create a second set and lose the first.
func ownerIdentityUnchanged(oldAnnotations, newAnnotations map[string]string) field.ErrorList {
	oldID, had := oldAnnotations[infrav1.OwnerIdentityAnnotation]
	newID := newAnnotations[infrav1.OwnerIdentityAnnotation]
	if !had || oldID == newID {
		return nil
	}
	return field.ErrorList{field.Forbidden(ownerIdentityPath, fmt.Sprintf("the management-cluster identity %q is "+
		"recorded and cannot be changed or removed: the names of the cluster's VPSie resources are derived from it", oldID))}
}

// ValidateUpdate checks a changed VPSieCluster: what the cloud was built from cannot change.
func (VPSieCluster) ValidateUpdate(_ context.Context, oldCluster, newCluster *infrav1.VPSieCluster) (admission.Warnings, error) {
	spec := field.NewPath("spec")
	errs := ratchet(validateClusterSpec(spec, &oldCluster.Spec), validateClusterSpec(spec, &newCluster.Spec))
	errs = append(errs, validateOwnerIdentity(newCluster.Annotations)...)
	errs = append(errs, ownerIdentityUnchanged(oldCluster.Annotations, newCluster.Annotations)...)
	// Compare defaulted copies so that an object stored before defaulting existed can still be updated.
	oldSpec, newSpec := oldCluster.Spec.DeepCopy(), newCluster.Spec.DeepCopy()
	oldSpec.Default()
	newSpec.Default()
	errs = append(errs, immutable(spec.Child("datacenter"), oldSpec.Datacenter, newSpec.Datacenter)...)
	errs = append(errs, immutable(spec.Child("projectId"), oldSpec.ProjectID, newSpec.ProjectID)...)
	errs = append(errs, immutable(spec.Child("network"), oldSpec.Network, newSpec.Network)...)
	errs = append(errs, credentialsRefUnchanged(spec.Child("credentialsRef", "name"), oldCluster, newSpec.CredentialsRef.Name)...)
	lb := spec.Child("controlPlaneLoadBalancer")
	errs = append(errs, immutable(lb.Child("enabled"), oldSpec.ControlPlaneLoadBalancer.IsEnabled(), newSpec.ControlPlaneLoadBalancer.IsEnabled())...)
	errs = append(errs, immutable(lb.Child("port"), oldSpec.ControlPlaneLoadBalancer.Port, newSpec.ControlPlaneLoadBalancer.Port)...)
	errs = append(errs, immutable(lb.Child("plan"), oldSpec.ControlPlaneLoadBalancer.Plan, newSpec.ControlPlaneLoadBalancer.Plan)...)
	// Once the cluster has an endpoint, its kubeconfigs and certificates point at it.
	if oldSpec.ControlPlaneEndpoint.IsValid() {
		errs = append(errs, immutable(spec.Child("controlPlaneEndpoint"), oldSpec.ControlPlaneEndpoint, newSpec.ControlPlaneEndpoint)...)
	}
	return firewallWarnings(&newCluster.Spec), invalid("VPSieCluster", newCluster, errs)
}

// credentialsRefUnchanged forbids pointing a cluster at another Secret once VPSie has been reached with the
// current one. Nothing tells which account a Secret belongs to (VPSie has no "who am I" route), and under
// another account every server, load balancer and VPC of the cluster reads as not found: the provider would
// build a second set there and leave the first one running in the old account. Before the credentials ever
// worked (a misspelt Secret name, a Secret still being written) nothing can have been made, and fixing the
// reference is allowed.
func credentialsRefUnchanged(path *field.Path, oldCluster *infrav1.VPSieCluster, newName string) field.ErrorList {
	oldName := oldCluster.Spec.CredentialsRef.Name
	if oldName == newName || !reachedVPSie(oldCluster) {
		return nil
	}
	return field.ErrorList{field.Forbidden(path, fmt.Sprintf("the cluster's VPSie resources were made with the "+
		"credentials of Secret %q and another Secret may belong to another VPSie account, where they do not exist. "+
		"To rotate credentials, put the new ones (of the same account) into Secret %q: they are picked up without "+
		"a restart", oldName, oldName))}
}

// reachedVPSie tells whether the cluster's credentials have been used against VPSie: it is provisioned, has
// recorded a load balancer or VPC or the create call of one, or its credentials were accepted.
func reachedVPSie(c *infrav1.VPSieCluster) bool {
	st := c.Status
	if ptr.Deref(st.Initialization.Provisioned, false) || st.LoadBalancer.Identifier != "" || st.Network.VPCID != "" ||
		st.LoadBalancer.CreateIntent != nil || st.Network.CreateIntent != nil {
		return true
	}
	return conditions.IsTrue(c, infrav1.CredentialsReadyCondition)
}

// ValidateDelete allows every delete.
func (VPSieCluster) ValidateDelete(context.Context, *infrav1.VPSieCluster) (admission.Warnings, error) {
	return nil, nil
}

func validateClusterSpec(path *field.Path, s *infrav1.VPSieClusterSpec) field.ErrorList {
	var errs field.ErrorList
	if s.CredentialsRef.Name == "" {
		errs = append(errs, field.Required(path.Child("credentialsRef", "name"),
			"name the Secret holding the VPSie credentials (apiKey, or clientId and clientSecret, plus accountPassword)"))
	}
	if s.Datacenter == "" {
		errs = append(errs, field.Required(path.Child("datacenter"),
			"set the identifier of the VPSie datacenter (a UUID from the VPSie console or its datacenter list)"))
	}
	if !s.ControlPlaneLoadBalancer.IsEnabled() && s.ControlPlaneEndpoint.Host == "" {
		errs = append(errs, field.Required(path.Child("controlPlaneEndpoint", "host"),
			"with controlPlaneLoadBalancer.enabled=false the control-plane endpoint must be given"))
	}
	seen := map[string]bool{}
	for i, fd := range s.FailureDomains {
		if seen[fd.Datacenter] {
			errs = append(errs, field.Duplicate(path.Child("failureDomains").Index(i).Child("datacenter"), fd.Datacenter))
		}
		seen[fd.Datacenter] = true
	}
	if cidr := s.Network.VPC.CIDR; cidr != "" {
		if _, err := vpcs.ParseCIDR(cidr); err != nil {
			errs = append(errs, field.Invalid(path.Child("network", "vpc", "cidr"), cidr, err.Error()))
		}
	}
	if s.Network.VPC.CIDR != "" && s.Network.VPC.ID != "" {
		errs = append(errs, field.Forbidden(path.Child("network", "vpc"),
			"set either id (use an existing VPC) or cidr (create one), not both"))
	}
	return append(errs, validateFirewall(path, s)...)
}

// ruleName is what a firewall rule's name may be: it becomes the rule's comment in VPSie.
var ruleName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// validateFirewall checks spec.firewall: a VPC when enabled, and every source, port and rule name.
func validateFirewall(path *field.Path, s *infrav1.VPSieClusterSpec) field.ErrorList {
	var errs field.ErrorList
	fw := &s.Firewall
	fwPath := path.Child("firewall")
	if fw.IsEnabled() && s.Network.VPC == (infrav1.VPCSpec{}) {
		errs = append(errs, field.Required(path.Child("network", "vpc"), firewalls.ErrNoVPC.Error()))
	}
	sources := func(p *field.Path, list []string) {
		for i, src := range list {
			if _, err := firewalls.ParseSource(src); err != nil {
				errs = append(errs, field.Invalid(p.Index(i), src, err.Error()))
			}
		}
	}
	sources(fwPath.Child("apiServerSources"), fw.APIServerSources)
	sources(fwPath.Child("sshSources"), fw.SSHSources)
	sources(fwPath.Child("nodePortSources"), fw.NodePortSources)
	seen := map[string]bool{}
	for i, r := range fw.Rules {
		rp := fwPath.Child("rules").Index(i)
		switch {
		case !ruleName.MatchString(r.Name):
			errs = append(errs, field.Invalid(rp.Child("name"), r.Name,
				"a rule name is lower-case letters, digits and '-', starting and ending with a letter or digit, e.g. https-ingress"))
		case strings.HasPrefix(r.Name, firewalls.RulePrefix):
			errs = append(errs, field.Invalid(rp.Child("name"), r.Name,
				"names starting with "+firewalls.RulePrefix+" are the provider's own rules: choose another name"))
		case seen[r.Name]:
			errs = append(errs, field.Duplicate(rp.Child("name"), r.Name))
		}
		seen[r.Name] = true
		switch r.Protocol {
		case infrav1.FirewallProtocolTCP, infrav1.FirewallProtocolUDP:
			if _, err := firewalls.ParsePorts(r.Ports); err != nil {
				errs = append(errs, field.Invalid(rp.Child("ports"), r.Ports, err.Error()))
			}
		case infrav1.FirewallProtocolICMP:
			if r.Ports != "" {
				errs = append(errs, field.Forbidden(rp.Child("ports"), "icmp has no ports: leave ports empty"))
			}
		default:
			errs = append(errs, field.NotSupported(rp.Child("protocol"), r.Protocol, []string{"tcp", "udp", "icmp"}))
		}
		if len(r.Sources) == 0 {
			errs = append(errs, field.Required(rp.Child("sources"), "list who may connect, e.g. 0.0.0.0/0 for anyone on IPv4"))
		}
		sources(rp.Child("sources"), r.Sources)
	}
	return errs
}

// firewallWarnings warns of a firewall that leaves the API server reachable from inside the VPC only.
func firewallWarnings(s *infrav1.VPSieClusterSpec) admission.Warnings {
	if !s.Firewall.IsEnabled() || s.ControlPlaneLoadBalancer.IsEnabled() || len(s.Firewall.APIServerSources) > 0 {
		return nil
	}
	return admission.Warnings{"spec.firewall: without the control-plane load balancer and with no apiServerSources, " +
		"the API server is reachable only from inside the VPC: list the addresses of whoever runs kubectl, and of the " +
		"management cluster, in spec.firewall.apiServerSources"}
}
