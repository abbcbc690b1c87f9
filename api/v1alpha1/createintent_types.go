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

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// CreateIntent records a create call for a VPSie resource (server, load balancer, VPC). VPSie answers a create
// with no identifier and may show the new resource only later, so the provider writes this record, and waits
// for the API server to confirm it, before it sends the create: whatever happens next (a lost answer, a crash,
// a restart), the object itself says that a resource of this name may exist, and the provider never creates a
// second one. It is cleared once the resource is found (its identifier is then recorded) or proven absent.
type CreateIntent struct {
	// name is the deterministic name the resource is created under: the server's hostname, the load
	// balancer's or the VPC's name.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	Name string `json:"name,omitempty"`

	// requestedAt is when the intent was recorded, just before the create call.
	// +required
	RequestedAt metav1.Time `json:"requestedAt,omitempty,omitzero"`

	// accepted is true once VPSie accepted the create call: the provider then never sends it again and
	// waits for the resource to be listed. Unset, the call's outcome is unknown (its answer was lost, or the
	// controller stopped before it could tell): the provider looks for the resource and creates again only
	// once VPSie has shown no such resource for a grace period after requestedAt.
	// +optional
	Accepted *bool `json:"accepted,omitempty"`
}

// IsAccepted tells whether VPSie accepted the create.
func (i *CreateIntent) IsAccepted() bool { return i != nil && i.Accepted != nil && *i.Accepted }
