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

package v1alpha1

// Defaults live here, next to the types, so that the defaulting webhooks and the controllers (which must
// cope with objects written before a webhook ran, e.g. restored by clusterctl move) agree on them.

const (
	// DefaultAPIServerPort is the control-plane load balancer's default port.
	DefaultAPIServerPort int32 = 6443
	// DefaultLoadBalancerAlgorithm is the control-plane load balancer's default algorithm.
	DefaultLoadBalancerAlgorithm = LoadBalancerAlgorithmRoundRobin
)

// IsEnabled tells whether the control-plane load balancer is wanted (default true).
func (s *LoadBalancerSpec) IsEnabled() bool {
	return s.Enabled == nil || *s.Enabled
}

// EffectivePort is the load balancer port, defaulted.
func (s *LoadBalancerSpec) EffectivePort() int32 {
	if s.Port == 0 {
		return DefaultAPIServerPort
	}
	return s.Port
}

// EffectiveAlgorithm is the load balancer algorithm, defaulted.
func (s *LoadBalancerSpec) EffectiveAlgorithm() LoadBalancerAlgorithm {
	if s.Algorithm == "" {
		return DefaultLoadBalancerAlgorithm
	}
	return s.Algorithm
}

// IsEnabled tells whether the cluster wants its firewall group (default false).
func (s *FirewallSpec) IsEnabled() bool {
	return s.Enabled != nil && *s.Enabled
}

// AllowsControlPlane tells whether control-plane machines may run in this failure domain (default true).
func (f *FailureDomainSpec) AllowsControlPlane() bool {
	return f.ControlPlane == nil || *f.ControlPlane
}

// WantsPublicIPv4 tells whether the server gets a public IPv4 address (default true).
func (s *VPSieMachineSpec) WantsPublicIPv4() bool {
	return s.PublicIPv4 == nil || *s.PublicIPv4
}

// WantsPublicIPv6 tells whether the server gets a public IPv6 address (default false).
func (s *VPSieMachineSpec) WantsPublicIPv6() bool {
	return s.PublicIPv6 != nil && *s.PublicIPv6
}

// WantsPrivateIP tells whether the spec asks for a private address (default false). A cluster with a VPC
// gives every server one regardless.
func (s *VPSieMachineSpec) WantsPrivateIP() bool {
	return s.PrivateIP != nil && *s.PrivateIP
}

// Default fills the cluster spec's defaults in place.
func (s *VPSieClusterSpec) Default() {
	lb := &s.ControlPlaneLoadBalancer
	if lb.Enabled == nil {
		lb.Enabled = boolPtr(true)
	}
	if lb.IsEnabled() {
		lb.Port = lb.EffectivePort()
		lb.Algorithm = lb.EffectiveAlgorithm()
	}
	for i := range s.FailureDomains {
		if s.FailureDomains[i].ControlPlane == nil {
			s.FailureDomains[i].ControlPlane = boolPtr(true)
		}
	}
}

// Default fills the machine spec's defaults in place.
func (s *VPSieMachineSpec) Default() {
	if s.PublicIPv4 == nil {
		s.PublicIPv4 = boolPtr(true)
	}
}

func boolPtr(b bool) *bool { return &b }
