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

import "strings"

// Ownership tags mark what the provider created in VPSie, so that it can be found and cleaned up. VPSie's tag
// syntax is undocumented; these use only lower-case letters, digits, '-', ':' and '/'.
const (
	// TagManaged is on every resource the provider creates.
	TagManaged = "capvpsie-managed"
	// TagCluster prefixes "<namespace>/<cluster name>".
	TagCluster = "capvpsie-cluster:"
	// TagMachine prefixes the VPSieMachine's name.
	TagMachine = "capvpsie-machine:"
	// TagRoleControlPlane marks control-plane servers.
	TagRoleControlPlane = "capvpsie-role:control-plane"
)

// OwnershipTags are the tags every resource of a cluster carries: managed, the owner identity recorded on the
// cluster, the claim of the running manager when it is another (the cluster was moved to it), and the
// cluster's namespace/name.
func OwnershipTags(identity, manager, namespace, cluster string) []string {
	tags := []string{TagManaged}
	if identity != "" {
		tags = append(tags, OwnerTag(identity))
	}
	if manager != "" && manager != identity {
		tags = append(tags, OwnerTag(manager))
	}
	return append(tags, TagCluster+namespace+"/"+cluster)
}

// ClusterOf is the namespace and name a capvpsie-cluster tag among tags names.
func ClusterOf(tags []string) (namespace, name string, ok bool) {
	for _, t := range tags {
		if ref, found := strings.CutPrefix(strings.TrimSpace(t), TagCluster); found {
			namespace, name, ok = strings.Cut(ref, "/")
			return namespace, name, ok && namespace != "" && name != ""
		}
	}
	return "", "", false
}

// MachineOf is the VPSieMachine name a capvpsie-machine tag among tags names.
func MachineOf(tags []string) (string, bool) {
	for _, t := range tags {
		if name, found := strings.CutPrefix(strings.TrimSpace(t), TagMachine); found && name != "" {
			return name, true
		}
	}
	return "", false
}
