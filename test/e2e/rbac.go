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

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// ProviderUser is who the provider's manager is to the API server in the e2e suite: a user with nothing but
// the ClusterRole of config/rbac/role.yaml, the one a release installs. A permission the code needs and the
// manifests lack fails the suite, as it would fail a real installation.
const ProviderUser = "capvpsie-e2e-manager"

// providerKubeConfig binds the provider's generated ClusterRole to ProviderUser and returns a kubeconfig that
// authenticates as that user.
func (h *Harness) providerKubeConfig(ctx context.Context) ([]byte, error) {
	raw, err := os.ReadFile(filepath.Join(repoRoot(), "config", "rbac", "role.yaml"))
	if err != nil {
		return nil, err
	}
	role := &rbacv1.ClusterRole{}
	if err := yaml.UnmarshalStrict(raw, role); err != nil {
		return nil, fmt.Errorf("config/rbac/role.yaml: %w", err)
	}
	role.Name = "capvpsie-e2e-" + role.Name
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: role.Name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: ProviderUser}},
	}
	if err := h.Client.Create(ctx, role); err != nil {
		return nil, fmt.Errorf("creating the provider's ClusterRole: %w", err)
	}
	if err := h.Client.Create(ctx, binding); err != nil {
		return nil, fmt.Errorf("binding the provider's ClusterRole: %w", err)
	}
	return h.Env.UserKubeConfig(ProviderUser)
}
