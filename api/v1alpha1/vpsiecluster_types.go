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

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
)

// VPSieClusterSpec is the desired state of a cluster's VPSie infrastructure.
// Identifiers (datacenter, projectId, plans, VPC id, sshKeys) may hold only the characters VPSie identifiers
// have: they go into VPSie's URLs and request bodies, where a stray space or control character fails late.
// +kubebuilder:validation:XValidation:rule="!has(self.controlPlaneLoadBalancer) || !has(self.controlPlaneLoadBalancer.enabled) || self.controlPlaneLoadBalancer.enabled || (has(self.controlPlaneEndpoint) && has(self.controlPlaneEndpoint.host))",message="controlPlaneEndpoint.host is required when controlPlaneLoadBalancer.enabled is false"
type VPSieClusterSpec struct {
	// controlPlaneEndpoint is the endpoint of the workload cluster's API server. The controller sets it from the
	// control-plane load balancer; when the load balancer is disabled the user sets it.
	// +optional
	// +kubebuilder:validation:XValidation:rule="!has(self.host) || !self.host.contains('://')",message="host is a DNS name or an IP address, not a URL: drop the scheme (https://) and any path, and give the port in controlPlaneEndpoint.port",fieldPath=".host"
	// +kubebuilder:validation:XValidation:rule="!has(self.host) || self.host.contains('://') || isIP(self.host) || (size(self.host) <= 253 && !self.host.matches('^[0-9.]+$') && self.host.matches('^[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?([.][A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?)*[.]?$'))",message="host must be an IP address or a DNS name such as api.mycluster.example.com (labels of at most 63 letters, digits and '-', no spaces or control characters); give the port in controlPlaneEndpoint.port",fieldPath=".host"
	ControlPlaneEndpoint clusterv1.APIEndpoint `json:"controlPlaneEndpoint,omitempty,omitzero"`

	// credentialsRef names a Secret in the VPSieCluster's namespace holding the VPSie credentials: either
	// `apiKey`, or `clientId` and `clientSecret`; plus `accountPassword`, which VPSie's delete call requires.
	// +required
	CredentialsRef SecretReference `json:"credentialsRef,omitempty,omitzero"`

	// datacenter is the identifier (a UUID) of the VPSie datacenter the cluster lives in: its load balancer,
	// VPC and, unless a machine or failure domain says otherwise, its servers.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^[A-Za-z0-9._:-]+$')",message="datacenter must be the identifier (a UUID) of a VPSie datacenter as the VPSie console or its datacenter list shows it: letters, digits, '.', '_', ':' and '-' only, no spaces or control characters"
	Datacenter string `json:"datacenter,omitempty"`

	// failureDomains are the datacenters machines may be spread over. When empty, the cluster's datacenter is
	// the only failure domain.
	// +optional
	// +listType=map
	// +listMapKey=datacenter
	// +kubebuilder:validation:MaxItems=16
	FailureDomains []FailureDomainSpec `json:"failureDomains,omitempty"`

	// controlPlaneLoadBalancer configures the VPSie load balancer in front of the control-plane machines.
	// +optional
	ControlPlaneLoadBalancer LoadBalancerSpec `json:"controlPlaneLoadBalancer,omitempty,omitzero"`

	// network selects the private network the cluster's servers join. Empty: no VPC.
	// +optional
	Network NetworkSpec `json:"network,omitempty,omitzero"`

	// firewall configures a VPSie firewall group the provider manages for the cluster and attaches to every
	// server of it (docs/networking.md). Empty: no firewall group.
	// +optional
	Firewall FirewallSpec `json:"firewall,omitempty,omitzero"`

	// sshKeys are identifiers of SSH keys stored in the VPSie account, installed on every server of the cluster.
	// Each is at most 64 characters; longer entries pass the schema only so that a pasted public key is refused
	// with a message saying what to do instead.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=1024
	// +kubebuilder:validation:items:XValidation:rule="!self.matches('^(ssh|ecdsa|sk)-[A-Za-z0-9@.-]+ ')",message="sshKeys lists identifiers of SSH keys stored in the VPSie account, not public keys: add the key to the account (VPSie console, SSH keys) and list its identifier"
	// +kubebuilder:validation:items:XValidation:rule="self.matches('^(ssh|ecdsa|sk)-[A-Za-z0-9@.-]+ ') || size(self) <= 64",message="an SSH key identifier has at most 64 characters: copy it from the VPSie console's SSH keys"
	// +kubebuilder:validation:items:XValidation:rule="self.matches('^(ssh|ecdsa|sk)-[A-Za-z0-9@.-]+ ') || self.matches('^[A-Za-z0-9._:-]+$')",message="an SSH key identifier is letters, digits, '.', '_', ':' and '-' only, no spaces or control characters: copy it from the VPSie console's SSH keys"
	SSHKeys []string `json:"sshKeys,omitempty"`

	// tags are added to every VPSie resource of the cluster, next to the provider's ownership tags.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=64
	// +kubebuilder:validation:items:XValidation:rule="!self.matches('[[:cntrl:]]')",message="a tag must not contain control characters (newlines, tabs, escape sequences)"
	Tags []string `json:"tags,omitempty"`

	// projectId is the VPSie project the cluster's servers are created in. Empty: the account's default project.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^[A-Za-z0-9._:-]+$')",message="projectId must be the identifier of a VPSie project as the VPSie console shows it: letters, digits, '.', '_', ':' and '-' only, no spaces or control characters"
	ProjectID string `json:"projectId,omitempty"`
}

// SecretReference names a Secret in the referencing object's namespace.
type SecretReference struct {
	// name of the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')",message="name must be the name of a Secret in the same namespace: lower-case letters, digits, '-' and '.', starting and ending with a letter or digit"
	Name string `json:"name,omitempty"`
}

// FailureDomainSpec is a datacenter machines may be placed in.
type FailureDomainSpec struct {
	// datacenter is the identifier of the VPSie datacenter; it is also the failure domain's name.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^[A-Za-z0-9._:-]+$')",message="datacenter must be the identifier (a UUID) of a VPSie datacenter as the VPSie console or its datacenter list shows it: letters, digits, '.', '_', ':' and '-' only, no spaces or control characters"
	Datacenter string `json:"datacenter,omitempty"`

	// controlPlane tells whether control-plane machines may be placed here. Default true.
	// +optional
	ControlPlane *bool `json:"controlPlane,omitempty"`
}

// LoadBalancerAlgorithm is how the load balancer spreads connections over backends.
// +kubebuilder:validation:Enum=roundrobin;leastconn;source
type LoadBalancerAlgorithm string

const (
	// LoadBalancerAlgorithmRoundRobin sends connections to each backend in turn.
	LoadBalancerAlgorithmRoundRobin LoadBalancerAlgorithm = "roundrobin"
	// LoadBalancerAlgorithmLeastConn sends a connection to the backend with the fewest connections.
	LoadBalancerAlgorithmLeastConn LoadBalancerAlgorithm = "leastconn"
	// LoadBalancerAlgorithmSource keeps a client on one backend.
	LoadBalancerAlgorithmSource LoadBalancerAlgorithm = "source"
)

// LoadBalancerSpec configures the control-plane load balancer.
// +kubebuilder:validation:MinProperties=1
type LoadBalancerSpec struct {
	// enabled creates a VPSie load balancer for the API server. Default true. When false, the user gives
	// spec.controlPlaneEndpoint.
	// +optional
	Enabled *bool `json:"enabled,omitempty"`

	// plan is the identifier of the load balancer plan (see VPSie's LB offers). Empty: the datacenter's first offer.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^[A-Za-z0-9._:-]+$')",message="plan must be the identifier of a VPSie load balancer plan as the VPSie console (Load balancers, Create) shows it: letters, digits, '.', '_', ':' and '-' only, no spaces or control characters"
	Plan string `json:"plan,omitempty"`

	// port the load balancer listens on and forwards to the API servers. Default 6443.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port int32 `json:"port,omitempty"`

	// algorithm used to spread connections. Default roundrobin.
	// +optional
	Algorithm LoadBalancerAlgorithm `json:"algorithm,omitempty"`
}

// NetworkSpec selects the cluster's private network.
// +kubebuilder:validation:MinProperties=1
type NetworkSpec struct {
	// vpc the cluster's servers join.
	// +optional
	VPC VPCSpec `json:"vpc,omitempty,omitzero"`
}

// VPCSpec is either an existing VPC (id) or one the provider creates and deletes (cidr, optionally name).
// +kubebuilder:validation:MinProperties=1
// +kubebuilder:validation:XValidation:rule="!(has(self.id) && has(self.cidr))",message="set either id (use an existing VPC) or cidr (create one), not both"
// +kubebuilder:validation:XValidation:rule="!has(self.name) || has(self.cidr)",message="name is for a VPC the provider creates: give cidr too"
type VPCSpec struct {
	// id of an existing VPC to join. The provider never deletes it.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^[A-Za-z0-9._:-]+$')",message="id must be the id of an existing VPSie VPC as the VPSie console or its VPC list shows it: letters, digits, '.', '_', ':' and '-' only, no spaces or control characters"
	ID string `json:"id,omitempty"`

	// cidr of the VPC the provider creates for the cluster, e.g. 10.42.0.0/16. Its name is derived from the
	// cluster so that a create interrupted by a crash is adopted instead of repeated.
	// +optional
	// +kubebuilder:validation:MinLength=9
	// +kubebuilder:validation:MaxLength=18
	// +kubebuilder:validation:XValidation:rule="isCIDR(self) && cidr(self).ip().family() == 4",message="cidr must be an IPv4 CIDR such as 10.42.0.0/16"
	// +kubebuilder:validation:XValidation:rule="!isCIDR(self) || cidr(self).ip().family() != 4 || (cidr(self).prefixLength() >= 8 && cidr(self).prefixLength() <= 29)",message="cidr must have a prefix length from /8 to /29, the VPC sizes VPSie creates, e.g. 10.42.0.0/16"
	// +kubebuilder:validation:XValidation:rule="!isCIDR(self) || cidr(self).ip().family() != 4 || cidr('10.0.0.0/8').containsCIDR(self) || cidr('172.16.0.0/12').containsCIDR(self) || cidr('192.168.0.0/16').containsCIDR(self)",message="cidr must be inside a private range (10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16), e.g. 10.42.0.0/16"
	CIDR string `json:"cidr,omitempty"`

	// name of the VPC the provider creates. Default capvpsie-<namespace>-<cluster>-<hash>. It must be unique in
	// the VPSie account: the provider finds its VPC by this name (VPSie's create answers with no id) and would
	// adopt another VPC of the same name.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="!self.matches('[[:cntrl:]]')",message="name must not contain control characters (newlines, tabs, escape sequences)"
	Name string `json:"name,omitempty"`
}

// FirewallSpec is the cluster's firewall group: what may reach the cluster's servers from outside its VPC.
// Everything inside the VPC (and from the Pod CIDRs) is always accepted, and so is all outbound traffic.
// +kubebuilder:validation:MinProperties=1
type FirewallSpec struct {
	// enabled creates (or adopts) a firewall group named after the cluster, keeps its rules as this spec says and
	// attaches it to every server of the cluster. It needs spec.network.vpc: the rules accept node-to-node
	// traffic by the VPC's range. Default false.
	// +optional
	Enabled *bool `json:"enabled,omitempty"`

	// apiServerSources are IPv4/IPv6 addresses or CIDRs that may reach the API server port of the control-plane
	// servers directly, besides the load balancer. Empty: only the load balancer and the VPC.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=43
	APIServerSources []string `json:"apiServerSources,omitempty"`

	// sshSources are addresses or CIDRs that may reach SSH (TCP 22). Empty (the default): SSH is closed from
	// outside the VPC.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=43
	SSHSources []string `json:"sshSources,omitempty"`

	// nodePortSources are addresses or CIDRs that may reach the NodePort range (TCP and UDP 30000-32767).
	// Empty (the default): NodePorts are closed from outside the VPC.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=43
	NodePortSources []string `json:"nodePortSources,omitempty"`

	// rules are further inbound rules, e.g. HTTPS from anywhere to an ingress controller's host ports.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=32
	Rules []FirewallRuleSpec `json:"rules,omitempty"`
}

// FirewallProtocol is the protocol of a firewall rule.
// +kubebuilder:validation:Enum=tcp;udp;icmp
type FirewallProtocol string

const (
	// FirewallProtocolTCP is TCP.
	FirewallProtocolTCP FirewallProtocol = "tcp"
	// FirewallProtocolUDP is UDP.
	FirewallProtocolUDP FirewallProtocol = "udp"
	// FirewallProtocolICMP is ICMP (no ports).
	FirewallProtocolICMP FirewallProtocol = "icmp"
)

// FirewallRuleSpec is one inbound rule accepting traffic.
type FirewallRuleSpec struct {
	// name identifies the rule; it becomes the rule's comment in VPSie. Lower-case letters, digits and '-';
	// names starting with "capvpsie-" are the provider's own.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=40
	Name string `json:"name,omitempty"`

	// protocol: tcp, udp or icmp.
	// +required
	Protocol FirewallProtocol `json:"protocol,omitempty"`

	// ports is a destination port ("443") or range ("8000-8100") for tcp and udp. Empty: every port. Not
	// allowed with icmp.
	// +optional
	// +kubebuilder:validation:MaxLength=11
	Ports string `json:"ports,omitempty"`

	// sources are the addresses or CIDRs accepted, e.g. 0.0.0.0/0 for anywhere (IPv4).
	// +required
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=43
	Sources []string `json:"sources,omitempty"`
}

// VPSieClusterStatus is the observed state of a cluster's VPSie infrastructure. Everything here can be rebuilt
// from the spec and the cloud (clusterctl move does not carry status).
type VPSieClusterStatus struct {
	// initialization reports the cluster infrastructure's provisioning to Cluster API.
	// +optional
	Initialization VPSieClusterInitializationStatus `json:"initialization,omitempty,omitzero"`

	// conditions: Ready, Paused, CredentialsReady, LoadBalancerReady, NetworkReady, FirewallReady.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=32
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// failureDomains are the datacenters machines may be placed in.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=100
	FailureDomains []clusterv1.FailureDomain `json:"failureDomains,omitempty"`

	// loadBalancer is the control-plane load balancer as last seen in VPSie.
	// +optional
	LoadBalancer LoadBalancerStatus `json:"loadBalancer,omitempty,omitzero"`

	// network is the cluster's VPC as last seen in VPSie.
	// +optional
	Network NetworkStatus `json:"network,omitempty,omitzero"`

	// firewall is the cluster's firewall group as last seen in VPSie.
	// +optional
	Firewall FirewallStatus `json:"firewall,omitempty,omitzero"`
}

// VPSieClusterInitializationStatus is the contract's status.initialization.
// +kubebuilder:validation:MinProperties=1
type VPSieClusterInitializationStatus struct {
	// provisioned is true when the cluster infrastructure is ready for machines.
	// +optional
	Provisioned *bool `json:"provisioned,omitempty"`
}

// LoadBalancerStatus describes the control-plane load balancer.
// +kubebuilder:validation:MinProperties=1
type LoadBalancerStatus struct {
	// identifier of the load balancer in VPSie.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	Identifier string `json:"identifier,omitempty"`
	// name of the load balancer in VPSie, derived from the cluster.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	Name string `json:"name,omitempty"`
	// ip is the load balancer's public address.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	IP string `json:"ip,omitempty"`

	// createIntent records the create call of the load balancer while its identifier is not known yet.
	// +optional
	CreateIntent *CreateIntent `json:"createIntent,omitempty"`
}

// NetworkStatus describes the cluster's VPC.
// +kubebuilder:validation:MinProperties=1
type NetworkStatus struct {
	// vpcId is the identifier of the VPC in VPSie.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	VPCID string `json:"vpcId,omitempty"`
	// vpcName is the VPC's name in VPSie.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	VPCName string `json:"vpcName,omitempty"`

	// cidr is the VPC's range as VPSie reports it (or as spec.network.vpc.cidr created it).
	// +optional
	// +kubebuilder:validation:MaxLength=43
	CIDR string `json:"cidr,omitempty"`

	// createIntent records the create call of the VPC while its id is not known yet.
	// +optional
	CreateIntent *CreateIntent `json:"createIntent,omitempty"`
}

// FirewallStatus describes the cluster's firewall group.
// +kubebuilder:validation:MinProperties=1
type FirewallStatus struct {
	// identifier of the firewall group in VPSie.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	Identifier string `json:"identifier,omitempty"`
	// name of the firewall group in VPSie, derived from the cluster.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	Name string `json:"name,omitempty"`

	// createIntent records the create call of the group while its identifier is not known yet.
	// +optional
	CreateIntent *CreateIntent `json:"createIntent,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:resource:path=vpsieclusters,scope=Namespaced,categories=cluster-api,shortName=vpsc
// +kubebuilder:storageversion
// +kubebuilder:subresource:status
// +kubebuilder:metadata:labels="cluster.x-k8s.io/v1beta2=v1alpha1"
// +kubebuilder:printcolumn:name="Cluster",type="string",JSONPath=".metadata.labels['cluster\\.x-k8s\\.io/cluster-name']",description="Cluster this VPSieCluster belongs to"
// +kubebuilder:printcolumn:name="Ready",type="string",JSONPath=".status.conditions[?(@.type=='Ready')].status",description="Cluster infrastructure is ready"
// +kubebuilder:printcolumn:name="Reason",type="string",JSONPath=".status.conditions[?(@.type=='Ready')].reason",description="Why it is (not) ready"
// +kubebuilder:printcolumn:name="Endpoint",type="string",JSONPath=".spec.controlPlaneEndpoint.host",description="API server endpoint"
// +kubebuilder:printcolumn:name="Datacenter",type="string",JSONPath=".spec.datacenter",priority=1
// +kubebuilder:printcolumn:name="Firewall",type="string",JSONPath=".status.firewall.name",description="The cluster's VPSie firewall group",priority=1
// +kubebuilder:printcolumn:name="Age",type="date",JSONPath=".metadata.creationTimestamp"

// VPSieCluster is the VPSie infrastructure of a Cluster API Cluster: credentials, the control-plane load
// balancer, the VPC and the failure domains.
type VPSieCluster struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired state.
	// +required
	Spec VPSieClusterSpec `json:"spec,omitzero"`
	// status is the observed state.
	// +optional
	Status VPSieClusterStatus `json:"status,omitempty,omitzero"`
}

// +kubebuilder:object:root=true

// VPSieClusterList is a list of VPSieCluster.
type VPSieClusterList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []VPSieCluster `json:"items"`
}

func init() {
	objectTypes = append(objectTypes, &VPSieCluster{}, &VPSieClusterList{})
}
