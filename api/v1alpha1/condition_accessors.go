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

// Condition accessors, so Cluster API's util/conditions, util/paused and util/patch work on these kinds.

// GetConditions returns the VPSieCluster's conditions.
func (c *VPSieCluster) GetConditions() []metav1.Condition { return c.Status.Conditions }

// SetConditions sets the VPSieCluster's conditions.
func (c *VPSieCluster) SetConditions(conds []metav1.Condition) { c.Status.Conditions = conds }

// GetConditions returns the VPSieMachine's conditions.
func (m *VPSieMachine) GetConditions() []metav1.Condition { return m.Status.Conditions }

// SetConditions sets the VPSieMachine's conditions.
func (m *VPSieMachine) SetConditions(conds []metav1.Condition) { m.Status.Conditions = conds }

// GetConditions returns the VPSieMachineTemplate's conditions.
func (t *VPSieMachineTemplate) GetConditions() []metav1.Condition { return t.Status.Conditions }

// SetConditions sets the VPSieMachineTemplate's conditions.
func (t *VPSieMachineTemplate) SetConditions(conds []metav1.Condition) { t.Status.Conditions = conds }
