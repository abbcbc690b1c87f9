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
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
)

// VPSieMachineTemplateSpec holds the machine spec MachineDeployments and control planes stamp VPSieMachines from.
type VPSieMachineTemplateSpec struct {
	// template is the VPSieMachine to create.
	// +required
	Template VPSieMachineTemplateResource `json:"template,omitzero"`
}

// VPSieMachineTemplateResource is the metadata and spec of VPSieMachines made from the template.
type VPSieMachineTemplateResource struct {
	// metadata added to machines made from the template.
	// +optional
	ObjectMeta clusterv1.ObjectMeta `json:"metadata,omitempty,omitzero"`
	// spec of machines made from the template.
	// +required
	Spec VPSieMachineSpec `json:"spec,omitzero"`
}

// Architecture is a CPU architecture as the cluster-autoscaler knows it.
// +kubebuilder:validation:Enum=amd64;arm64;s390x;ppc64le
type Architecture string

const (
	// ArchitectureAmd64 is x86-64, what VPSie plans run on.
	ArchitectureAmd64 Architecture = "amd64"
	// ArchitectureArm64 is 64-bit ARM.
	ArchitectureArm64 Architecture = "arm64"
)

// NodeInfo is what a node made from the template runs on.
// +kubebuilder:validation:MinProperties=1
type NodeInfo struct {
	// architecture of the node's CPU.
	// +optional
	Architecture Architecture `json:"architecture,omitempty"`
	// operatingSystem of the node, e.g. linux.
	// +optional
	// +kubebuilder:validation:MaxLength=32
	OperatingSystem string `json:"operatingSystem,omitempty"`
}

// VPSieMachineTemplateStatus tells the cluster-autoscaler what a node from this template offers, so it can
// scale a MachineDeployment up from zero replicas.
type VPSieMachineTemplateStatus struct {
	// capacity of a node from this template (cpu, memory, ephemeral-storage), read from the VPSie plan.
	// +optional
	Capacity corev1.ResourceList `json:"capacity,omitempty"`
	// nodeInfo of a node from this template.
	// +optional
	NodeInfo NodeInfo `json:"nodeInfo,omitempty,omitzero"`
	// conditions: Ready tells whether the plan could be read.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=32
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:resource:path=vpsiemachinetemplates,scope=Namespaced,categories=cluster-api,shortName=vpsmt
// +kubebuilder:storageversion
// +kubebuilder:subresource:status
// +kubebuilder:metadata:labels="cluster.x-k8s.io/v1beta2=v1alpha1"
// +kubebuilder:printcolumn:name="Plan",type="string",JSONPath=".spec.template.spec.plan"
// +kubebuilder:printcolumn:name="CPU",type="string",JSONPath=".status.capacity.cpu"
// +kubebuilder:printcolumn:name="Memory",type="string",JSONPath=".status.capacity.memory"
// +kubebuilder:printcolumn:name="Age",type="date",JSONPath=".metadata.creationTimestamp"

// VPSieMachineTemplate is the template VPSieMachines are made from.
type VPSieMachineTemplate struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec holds the template.
	// +required
	Spec VPSieMachineTemplateSpec `json:"spec,omitzero"`
	// status holds what the cluster-autoscaler reads to scale from zero.
	// +optional
	Status VPSieMachineTemplateStatus `json:"status,omitempty,omitzero"`
}

// +kubebuilder:object:root=true

// VPSieMachineTemplateList is a list of VPSieMachineTemplate.
type VPSieMachineTemplateList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []VPSieMachineTemplate `json:"items"`
}

// VPSieClusterTemplateSpec holds the cluster spec a ClusterClass stamps VPSieClusters from.
type VPSieClusterTemplateSpec struct {
	// template is the VPSieCluster to create.
	// +required
	Template VPSieClusterTemplateResource `json:"template,omitzero"`
}

// VPSieClusterTemplateResource is the metadata and spec of VPSieClusters made from the template.
type VPSieClusterTemplateResource struct {
	// metadata added to clusters made from the template.
	// +optional
	ObjectMeta clusterv1.ObjectMeta `json:"metadata,omitempty,omitzero"`
	// spec of clusters made from the template.
	// +required
	Spec VPSieClusterSpec `json:"spec,omitzero"`
}

// +kubebuilder:object:root=true
// +kubebuilder:resource:path=vpsieclustertemplates,scope=Namespaced,categories=cluster-api,shortName=vpsct
// +kubebuilder:storageversion
// +kubebuilder:metadata:labels="cluster.x-k8s.io/v1beta2=v1alpha1"
// +kubebuilder:printcolumn:name="Age",type="date",JSONPath=".metadata.creationTimestamp"

// VPSieClusterTemplate is the template VPSieClusters are made from (ClusterClass).
type VPSieClusterTemplate struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec holds the template.
	// +required
	Spec VPSieClusterTemplateSpec `json:"spec,omitzero"`
}

// +kubebuilder:object:root=true

// VPSieClusterTemplateList is a list of VPSieClusterTemplate.
type VPSieClusterTemplateList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []VPSieClusterTemplate `json:"items"`
}

func init() {
	objectTypes = append(objectTypes, &VPSieMachineTemplate{}, &VPSieMachineTemplateList{},
		&VPSieClusterTemplate{}, &VPSieClusterTemplateList{})
}
