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

package scope

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/cluster-api/util"
	"sigs.k8s.io/cluster-api/util/patch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	infrav1 "github.com/vpsieinc/cluster-api-provider-vpsie/api/v1alpha1"
)

// ErrBootstrapDataNotReady means the Machine has no bootstrap data Secret yet.
var ErrBootstrapDataNotReady = errors.New("bootstrap data secret is not set on the Machine yet")

// MachineScopeParams are the inputs of NewMachineScope.
type MachineScopeParams struct {
	Client       client.Client
	Cluster      *clusterv1.Cluster
	Machine      *clusterv1.Machine
	VPSieCluster *infrav1.VPSieCluster
	VPSieMachine *infrav1.VPSieMachine
	// Account is the VPSie account of the cluster's credentials.
	Account *Account
	// Manager is the identity of the running manager (--management-cluster-id).
	Manager string
	// UserDataLimit is the most user data a create may send, counted base64-encoded as sent
	// (--max-user-data-bytes); cloudinit.DefaultSizeLimit when zero, no limit when negative.
	UserDataLimit int
}

// MachineScope is one reconcile of a VPSieMachine.
type MachineScope struct {
	Client       client.Client
	Cluster      *clusterv1.Cluster
	Machine      *clusterv1.Machine
	VPSieCluster *infrav1.VPSieCluster
	VPSieMachine *infrav1.VPSieMachine
	Account      *Account
	// Manager is the identity of the running manager; see Identity for the cluster's own.
	Manager string
	// UserDataLimit is MachineScopeParams.UserDataLimit.
	UserDataLimit int

	patchHelper *patch.Helper
}

// NewMachineScope snapshots the VPSieMachine for a patch at Close.
func NewMachineScope(p MachineScopeParams) (*MachineScope, error) {
	if p.Client == nil || p.Cluster == nil || p.Machine == nil || p.VPSieCluster == nil || p.VPSieMachine == nil {
		return nil, errors.New("machine scope needs a client, a Cluster, a Machine, a VPSieCluster and a VPSieMachine")
	}
	helper, err := patch.NewHelper(p.VPSieMachine, p.Client)
	if err != nil {
		return nil, fmt.Errorf("building patch helper: %w", err)
	}
	return &MachineScope{
		Client: p.Client, Cluster: p.Cluster, Machine: p.Machine, VPSieCluster: p.VPSieCluster,
		VPSieMachine: p.VPSieMachine, Account: p.Account, Manager: p.Manager, UserDataLimit: p.UserDataLimit,
		patchHelper: helper,
	}, nil
}

// Close computes Ready from the other conditions and patches the VPSieMachine.
func (s *MachineScope) Close(ctx context.Context) error {
	return patchWithSummary(ctx, s.patchHelper, s.VPSieMachine, s.ownedConditions())
}

// PatchNow writes the VPSieMachine (status included) at once and returns when the API server has confirmed
// it; Close later writes only what changed after. Used for what must be durable before a cloud call: a
// create intent.
func (s *MachineScope) PatchNow(ctx context.Context) error {
	helper, err := patchNow(ctx, s.Client, s.patchHelper, s.VPSieMachine, s.ownedConditions())
	if err != nil {
		return err
	}
	s.patchHelper = helper
	return nil
}

func (s *MachineScope) ownedConditions() []string {
	owned := []string{infrav1.ServerReadyCondition}
	if s.IsControlPlane() && s.VPSieCluster.Spec.ControlPlaneLoadBalancer.IsEnabled() {
		owned = append(owned, infrav1.LoadBalancerBackendCondition)
	}
	return owned
}

// IsControlPlane tells whether the Machine is a control-plane machine.
func (s *MachineScope) IsControlPlane() bool { return util.IsControlPlaneMachine(s.Machine) }

// Hostname is the server's hostname, computed from the cluster's recorded identity and the VPSieMachine's
// namespace and name only, so the server can be found again by anyone, at any time, after any crash or move:
// VPSie's create answers with no identifier. See MachineHostname.
func (s *MachineScope) Hostname() string {
	return MachineHostname(s.Identity(), s.VPSieMachine.Namespace, s.VPSieMachine.Name)
}

// Identity is the management-cluster identity recorded on the VPSieCluster; empty until its first reconcile.
func (s *MachineScope) Identity() string {
	return s.VPSieCluster.Annotations[infrav1.OwnerIdentityAnnotation]
}

var notDNSLabel = regexp.MustCompile(`[^a-z0-9-]+`)

// MachineHostname is <name>-<hash>: the VPSieMachine name made a valid DNS label, cut so the whole fits
// in 63 characters, and 8 hex characters of a hash of the management-cluster identity and namespace/name.
// Two VPSieMachines never share a hostname (the hash tells apart equal names in other namespaces or other
// management clusters, and names cut to the same prefix); the same VPSieMachine always gets the same one.
func MachineHostname(identity, namespace, name string) string {
	suffix := nameHash(identity, namespace, name)
	base := strings.Trim(notDNSLabel.ReplaceAllString(strings.ToLower(name), "-"), "-")
	const maxBase = 63 - 1 - 8
	if len(base) > maxBase {
		base = strings.TrimRight(base[:maxBase], "-")
	}
	if base == "" {
		return "m-" + suffix
	}
	return base + "-" + suffix
}

// Datacenter is where the server is (to be) created: the machine's own datacenter, else the Machine's
// failure domain, else the cluster's datacenter.
func (s *MachineScope) Datacenter() string {
	switch {
	case s.VPSieMachine.Spec.Datacenter != "":
		return s.VPSieMachine.Spec.Datacenter
	case s.Machine.Spec.FailureDomain != "":
		return s.Machine.Spec.FailureDomain
	default:
		return s.VPSieCluster.Spec.Datacenter
	}
}

// SSHKeyIdentifiers are the keys to install: the machine's, plus the cluster's unless the machine opts out,
// in order and without repeats.
func (s *MachineScope) SSHKeyIdentifiers() []string {
	var keys []string
	if s.VPSieMachine.Spec.IgnoreClusterSSHKeys == nil || !*s.VPSieMachine.Spec.IgnoreClusterSSHKeys {
		keys = append(keys, s.VPSieCluster.Spec.SSHKeys...)
	}
	keys = append(keys, s.VPSieMachine.Spec.SSHKeys...)
	return dedupe(keys)
}

// Tags are the server's tags: the provider's ownership tags first, then the cluster's and machine's own.
func (s *MachineScope) Tags() []string {
	tags := OwnershipTags(s.Identity(), s.Manager, s.Cluster.Namespace, s.Cluster.Name)
	tags = append(tags, TagMachine+s.VPSieMachine.Name)
	if s.IsControlPlane() {
		tags = append(tags, TagRoleControlPlane)
	}
	tags = append(tags, s.VPSieCluster.Spec.Tags...)
	tags = append(tags, s.VPSieMachine.Spec.Tags...)
	return dedupe(tags)
}

// BootstrapData reads the bootstrap provider's data for the Machine.
func (s *MachineScope) BootstrapData(ctx context.Context) ([]byte, error) {
	name := s.Machine.Spec.Bootstrap.DataSecretName
	if name == nil || *name == "" {
		return nil, ErrBootstrapDataNotReady
	}
	secret := &corev1.Secret{}
	key := types.NamespacedName{Namespace: s.Machine.Namespace, Name: *name}
	if err := s.Client.Get(ctx, key, secret); err != nil {
		return nil, fmt.Errorf("reading bootstrap data Secret %s: %w", key, err)
	}
	value, ok := secret.Data["value"]
	if !ok || len(value) == 0 {
		return nil, fmt.Errorf("bootstrap data Secret %s has no value", key)
	}
	return value, nil
}

// SetServer records the server the machine is backed by: identifier, providerID and hostname.
func (s *MachineScope) SetServer(identifier string) {
	s.VPSieMachine.Status.ServerIdentifier = identifier
	if identifier != "" && s.VPSieMachine.Spec.ProviderID == "" {
		s.VPSieMachine.Spec.ProviderID = infrav1.ProviderIDPrefix + identifier
	}
}

// ServerIdentifier is the identifier of the machine's server, from status or, when status was lost (e.g.
// clusterctl move), from spec.providerID.
func (s *MachineScope) ServerIdentifier() string {
	if id := s.VPSieMachine.Status.ServerIdentifier; id != "" {
		return id
	}
	return strings.TrimPrefix(s.VPSieMachine.Spec.ProviderID, infrav1.ProviderIDPrefix)
}

// SetServerState records the server's state.
func (s *MachineScope) SetServerState(state infrav1.ServerState) {
	s.VPSieMachine.Status.ServerState = state
}

// SetProvisioned marks the machine infrastructure provisioned for Cluster API.
func (s *MachineScope) SetProvisioned() {
	t := true
	s.VPSieMachine.Status.Initialization.Provisioned = &t
}

func dedupe(in []string) []string {
	seen := make(map[string]bool, len(in))
	out := make([]string, 0, len(in))
	for _, v := range in {
		if v != "" && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}
