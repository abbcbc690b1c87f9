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

package services

import "time"

// Result is what a cluster resource service's Reconcile found (the VPC, the load balancer).
type Result struct {
	// Ready is true when the resource's condition is True: it exists and is usable, or it is not wanted.
	Ready bool
	// Created is true when this reconcile made a create call that VPSie accepted.
	Created bool
	// RequeueAfter asks to look again after this long.
	RequeueAfter time.Duration
	// PrunedBackends are the servers whose (stale) backends were removed from the load balancer.
	PrunedBackends []string
}

// DeleteResult is what a cluster resource service's Delete did.
type DeleteResult struct {
	// Done is true once nothing of the resource is left.
	Done bool
	// Deleted is true when this call made a delete call that VPSie accepted.
	Deleted bool
	// RequeueAfter asks to look again after this long.
	RequeueAfter time.Duration
}
