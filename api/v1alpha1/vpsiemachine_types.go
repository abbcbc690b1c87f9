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

// ProviderIDPrefix starts every provider ID this provider writes: vpsie://<server identifier>, the form
// VPSie's cloud-controller-manager parses.
const ProviderIDPrefix = "vpsie://"

// VPSieMachineSpec is the desired state of a VPSie server backing a Cluster API Machine.
// Identifiers (plan, image, datacenter, sshKeys) may hold only the characters VPSie identifiers have: they go
// into VPSie's URLs and request bodies, where a stray space or control character fails late, out of sight.
type VPSieMachineSpec struct {
	// providerID is vpsie://<server identifier>, set by the controller once the server exists. It matches the
	// workload cluster Node's spec.providerID.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:XValidation:rule="self.matches('^vpsie://[A-Za-z0-9._:-]+$')",message="providerID must look like vpsie://<server identifier>: the identifier is letters, digits, '.', '_', ':' and '-' only"
	ProviderID string `json:"providerID,omitempty"`

	// plan is the identifier of the VPSie plan (CPU, memory, disk) of the server.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^[A-Za-z0-9._:-]+$')",message="plan must be the identifier of a VPSie plan as the VPSie console or its plans list shows it: letters, digits, '.', '_', ':' and '-' only, no spaces or control characters"
	Plan string `json:"plan,omitempty"`

	// image is the identifier of the operating system image (VPSie's osIdentifier). The image must run
	// cloud-init from a NoCloud source, which is how VPSie passes user data.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^[A-Za-z0-9._:-]+$')",message="image must be the identifier (osIdentifier) of a VPSie OS image as the VPSie console shows it: letters, digits, '.', '_', ':' and '-' only, no spaces or control characters"
	Image string `json:"image,omitempty"`

	// datacenter overrides where the server is created. Empty: the Machine's failure domain, else the
	// cluster's datacenter.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^[A-Za-z0-9._:-]+$')",message="datacenter must be the identifier (a UUID) of a VPSie datacenter as the VPSie console or its datacenter list shows it: letters, digits, '.', '_', ':' and '-' only, no spaces or control characters"
	Datacenter string `json:"datacenter,omitempty"`

	// sshKeys are identifiers of SSH keys in the VPSie account installed on this server in addition to the
	// cluster's, unless ignoreClusterSSHKeys is true.
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

	// ignoreClusterSSHKeys installs only this machine's sshKeys, not the cluster's.
	// +optional
	IgnoreClusterSSHKeys *bool `json:"ignoreClusterSSHKeys,omitempty"`

	// publicIPv4 gives the server a public IPv4 address. Default true.
	// +optional
	PublicIPv4 *bool `json:"publicIPv4,omitempty"`

	// publicIPv6 gives the server a public IPv6 address. Default false.
	// +optional
	PublicIPv6 *bool `json:"publicIPv6,omitempty"`

	// privateIP gives the server a private address. Default false; servers of a cluster with a VPC always get one.
	// +optional
	PrivateIP *bool `json:"privateIP,omitempty"`

	// firewallGroups are identifiers of existing VPSie firewall groups attached to this server in addition to the
	// cluster's own (spec.firewall of the VPSieCluster). The provider attaches them once, when the server is
	// created, and never changes or deletes them.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=4
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=64
	// +kubebuilder:validation:items:XValidation:rule="self.matches('^[A-Za-z0-9._:-]+$')",message="a firewall group is named by its identifier as the VPSie console or its firewall group list shows it: letters, digits, '.', '_', ':' and '-' only, no spaces or control characters"
	FirewallGroups []string `json:"firewallGroups,omitempty"`

	// tags are added to the server next to the cluster's tags and the provider's ownership tags.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=64
	// +kubebuilder:validation:items:XValidation:rule="!self.matches('[[:cntrl:]]')",message="a tag must not contain control characters (newlines, tabs, escape sequences)"
	Tags []string `json:"tags,omitempty"`

	// additionalCloudInit is extra cloud-init user data (a #cloud-config document or a script starting with
	// #!) delivered next to the bootstrap data as its own part of a MIME multipart message. The bootstrap
	// data itself is never edited.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=32768
	AdditionalCloudInit string `json:"additionalCloudInit,omitempty"`
}

// ServerState is the state of the VPSie server as the controller last saw it.
// +kubebuilder:validation:Enum=Pending;Booting;Running;Stopped;Deleting;NotFound
type ServerState string

const (
	// ServerStatePending: a create was made (status.createIntent) and VPSie queues it or has not listed it yet;
	// no server identifier yet.
	ServerStatePending ServerState = "Pending"
	// ServerStateBooting: the server exists but is not up with an address yet.
	ServerStateBooting ServerState = "Booting"
	// ServerStateRunning: the server is active, powered on and has an address.
	ServerStateRunning ServerState = "Running"
	// ServerStateStopped: the server is powered off, suspended or locked.
	ServerStateStopped ServerState = "Stopped"
	// ServerStateDeleting: the delete call was made and the controller waits until the server is gone.
	ServerStateDeleting ServerState = "Deleting"
	// ServerStateNotFound: the server the machine points at no longer exists.
	ServerStateNotFound ServerState = "NotFound"
)

// VPSieMachineStatus is the observed state of a VPSie server. Everything here can be rebuilt from the spec and
// the cloud (clusterctl move does not carry status).
type VPSieMachineStatus struct {
	// initialization reports the machine infrastructure's provisioning to Cluster API.
	// +optional
	Initialization VPSieMachineInitializationStatus `json:"initialization,omitempty,omitzero"`

	// conditions: Ready, Paused, ServerReady and, on control-plane machines, LoadBalancerBackend.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=32
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// addresses of the server.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=32
	Addresses []clusterv1.MachineAddress `json:"addresses,omitempty"`

	// failureDomain is the datacenter the server runs in.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	FailureDomain string `json:"failureDomain,omitempty"`

	// serverIdentifier is the server's identifier (a UUID) in VPSie.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	ServerIdentifier string `json:"serverIdentifier,omitempty"`

	// hostname of the server: deterministic and unique, it is how a server is found again after a create
	// whose answer was lost (VPSie returns no identifier on create).
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Hostname string `json:"hostname,omitempty"`

	// serverState is the server's state as last seen.
	// +optional
	ServerState ServerState `json:"serverState,omitempty"`

	// createIntent records the create call of the server while its identifier is not known yet.
	// +optional
	CreateIntent *CreateIntent `json:"createIntent,omitempty"`
}

// VPSieMachineInitializationStatus is the contract's status.initialization.
// +kubebuilder:validation:MinProperties=1
type VPSieMachineInitializationStatus struct {
	// provisioned is true once the server is up with an address and spec.providerID is set.
	// +optional
	Provisioned *bool `json:"provisioned,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:resource:path=vpsiemachines,scope=Namespaced,categories=cluster-api,shortName=vpsm
// +kubebuilder:storageversion
// +kubebuilder:subresource:status
// +kubebuilder:metadata:labels="cluster.x-k8s.io/v1beta2=v1alpha1"
// +kubebuilder:printcolumn:name="Cluster",type="string",JSONPath=".metadata.labels['cluster\\.x-k8s\\.io/cluster-name']",description="Cluster this VPSieMachine belongs to"
// +kubebuilder:printcolumn:name="State",type="string",JSONPath=".status.serverState",description="VPSie server state"
// +kubebuilder:printcolumn:name="Ready",type="string",JSONPath=".status.conditions[?(@.type=='Ready')].status",description="Machine infrastructure is ready"
// +kubebuilder:printcolumn:name="ProviderID",type="string",JSONPath=".spec.providerID",description="vpsie://<server identifier>"
// +kubebuilder:printcolumn:name="Address",type="string",JSONPath=".status.addresses[?(@.type=='ExternalIP')].address",description="Public address"
// +kubebuilder:printcolumn:name="Machine",type="string",JSONPath=".metadata.ownerReferences[?(@.kind==\"Machine\")].name",description="Owning Machine",priority=1
// +kubebuilder:printcolumn:name="Age",type="date",JSONPath=".metadata.creationTimestamp"

// VPSieMachine is a VPSie server backing a Cluster API Machine.
type VPSieMachine struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired state.
	// +required
	Spec VPSieMachineSpec `json:"spec,omitzero"`
	// status is the observed state.
	// +optional
	Status VPSieMachineStatus `json:"status,omitempty,omitzero"`
}

// +kubebuilder:object:root=true

// VPSieMachineList is a list of VPSieMachine.
type VPSieMachineList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []VPSieMachine `json:"items"`
}

func init() {
	objectTypes = append(objectTypes, &VPSieMachine{}, &VPSieMachineList{})
}
