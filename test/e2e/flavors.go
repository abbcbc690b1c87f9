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

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/cluster-api/cmd/clusterctl/client/yamlprocessor"
	"sigs.k8s.io/cluster-api/util/kubeconfig"
	utilyaml "sigs.k8s.io/cluster-api/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/scope"
	"github.com/vpsieinc/cluster-api-provider-vpsie/test/vpsiesim"
)

// flavorVariables are the values the flavors in templates/ are rendered with here (docs/getting-started.md
// documents them): the simulator's catalog, one control-plane Machine, two workers; every other variable at
// its default (VPSIE_CREDENTIALS_SECRET: the Secret CreateFlavorCluster creates as a user would).
// CLUSTER_NAME is the cluster's; VPSIE_SSH_KEY the account key the harness adds (Harness.SSHKey).
var flavorVariables = map[string]string{
	"KUBERNETES_VERSION":          "v1.34.1",
	"CONTROL_PLANE_MACHINE_COUNT": "1",
	"WORKER_MACHINE_COUNT":        "2",
	"VPSIE_DATACENTER":            vpsiesim.DefaultDatacenter,
	"VPSIE_LB_PLAN":               vpsiesim.DefaultLBPlan,
	"VPSIE_CONTROL_PLANE_PLAN":    vpsiesim.DefaultPlan,
	"VPSIE_WORKER_PLAN":           workerPlan,
	"VPSIE_IMAGE":                 vpsiesim.DefaultImage,
}

// flavorCredentialsSecret is VPSIE_CREDENTIALS_SECRET's default.
const flavorCredentialsSecret = "vpsie-credentials"

// workerPlan is the simulator's "std-4vcpu-8gb": another plan than the control plane's, so that a patch or
// template that mixes them up shows.
const workerPlan = "9a000000-0000-4000-8000-000000000003"

// renderFlavor renders templates/<file> for cluster in namespace as `clusterctl generate cluster` does (its
// variable processor, defaults such as ${POD_CIDR:=...} included).
func (h *Harness) renderFlavor(cluster, namespace, file string) ([]unstructured.Unstructured, error) {
	raw, err := os.ReadFile(filepath.Join(repoRoot(), "templates", file))
	if err != nil {
		return nil, err
	}
	vars := func(v string) (string, error) {
		switch v {
		case "CLUSTER_NAME":
			return cluster, nil
		case "VPSIE_SSH_KEY":
			return h.SSHKey, nil
		}
		if val, ok := flavorVariables[v]; ok {
			return val, nil
		}
		// For a variable with a default (${VAR:=default}) the processor takes the default instead.
		return "", fmt.Errorf("the e2e suite gives no value for %s", v)
	}
	out, err := yamlprocessor.NewSimpleProcessor().Process(raw, vars)
	if err != nil {
		return nil, fmt.Errorf("rendering templates/%s: %w", file, err)
	}
	objs, err := utilyaml.ToUnstructured(out)
	if err != nil {
		return nil, fmt.Errorf("templates/%s renders to invalid YAML: %w", file, err)
	}
	for i := range objs {
		objs[i].SetNamespace(namespace)
	}
	return objs, nil
}

// CreateFlavorCluster creates what the flavor files render to for cluster name in namespace, as
// `clusterctl generate cluster ... | kubectl apply -f -` would, plus the one thing a real control plane
// would give: a `<cluster>-kubeconfig` Secret reaching the workload cluster (the local API server). It is of
// type Opaque, which KCP treats as user-provided and leaves alone; the one KCP would write signs its client
// certificate with the cluster's own CA, which the local API server does not trust.
func (h *Harness) CreateFlavorCluster(ctx context.Context, namespace, name string, files ...string) (*Cluster, error) {
	// The credentials Secret the user creates first (docs/getting-started.md): the flavors only refer to it.
	creds := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: flavorCredentialsSecret,
			Labels: map[string]string{"clusterctl.cluster.x-k8s.io/move": ""}},
		StringData: map[string]string{scope.SecretKeyAPIKey: SimToken, scope.SecretKeyAccountPassword: SimPassword},
	}
	if err := h.Client.Create(ctx, creds); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("creating the credentials Secret: %w", err)
	}
	for _, file := range files {
		objs, err := h.renderFlavor(name, namespace, file)
		if err != nil {
			return nil, err
		}
		for i := range objs {
			if err := h.Client.Create(ctx, &objs[i]); err != nil {
				return nil, fmt.Errorf("creating %s %s from templates/%s: %w", objs[i].GetKind(), objs[i].GetName(), file, err)
			}
		}
	}
	cluster := &clusterv1.Cluster{}
	if err := h.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, cluster); err != nil {
		return nil, fmt.Errorf("the flavor made no Cluster %s: %w", name, err)
	}
	secret := kubeconfig.GenerateSecret(cluster, kubeconfig.FromEnvTestConfig(h.Env.Config, cluster))
	secret.Type = corev1.SecretTypeOpaque
	if err := h.Client.Create(ctx, secret); err != nil {
		return nil, fmt.Errorf("creating the kubeconfig Secret: %w", err)
	}
	return &Cluster{Namespace: namespace, Name: name, Cluster: cluster}, nil
}
