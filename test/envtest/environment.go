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

// Package envtest starts a real kube-apiserver and etcd (built from source by
// hack/kube-assets.sh) with Cluster API's CRDs from the module cache, for the
// provider's integration tests.
package envtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	kruntime "k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
)

// clusterAPIModule is the module whose CRDs every environment installs.
const clusterAPIModule = "sigs.k8s.io/cluster-api"

// Options tune an Environment.
type Options struct {
	// CRDDirectoryPaths are installed in addition to Cluster API's core CRDs.
	CRDDirectoryPaths []string
	// AddToScheme registers extra kinds with the environment's scheme.
	AddToScheme []func(*kruntime.Scheme) error
	// WebhookPaths are folders or files of webhook configurations to install; envtest points them at a
	// local serving address and certificate, see WebhookServerOptions.
	WebhookPaths []string
}

// Environment is a running control plane and a client for it.
type Environment struct {
	env    *envtest.Environment
	Config *rest.Config
	Scheme *kruntime.Scheme
	Client client.Client
}

// Start brings up kube-apiserver and etcd from KUBEBUILDER_ASSETS and installs
// Cluster API's core CRDs plus the ones in opts.
func Start(opts Options) (*Environment, error) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		return nil, errors.New("KUBEBUILDER_ASSETS is not set: run `make test`, or " +
			"export KUBEBUILDER_ASSETS=\"$(hack/kube-assets.sh)\" to build the control plane first")
	}
	capiCRDs, err := ClusterAPICRDPath()
	if err != nil {
		return nil, err
	}

	scheme := kruntime.NewScheme()
	adders := append([]func(*kruntime.Scheme) error{clientgoscheme.AddToScheme, clusterv1.AddToScheme}, opts.AddToScheme...)
	for _, add := range adders {
		if err := add(scheme); err != nil {
			return nil, fmt.Errorf("building scheme: %w", err)
		}
	}

	env := &envtest.Environment{
		Scheme:                scheme,
		CRDDirectoryPaths:     append([]string{capiCRDs}, opts.CRDDirectoryPaths...),
		ErrorIfCRDPathMissing: true,
		WebhookInstallOptions: envtest.WebhookInstallOptions{Paths: opts.WebhookPaths},
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("starting the local control plane: %w", err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		_ = env.Stop()
		return nil, fmt.Errorf("building a client: %w", err)
	}
	return &Environment{env: env, Config: cfg, Scheme: scheme, Client: c}, nil
}

// WebhookServerOptions are the address and certificate a webhook server must use for the webhook
// configurations installed from Options.WebhookPaths to reach it.
func (e *Environment) WebhookServerOptions() webhook.Options {
	w := e.env.WebhookInstallOptions
	return webhook.Options{Host: w.LocalServingHost, Port: w.LocalServingPort, CertDir: w.LocalServingCertDir}
}

// WaitForWebhooks dry-runs the creation of probe (a valid object of a kind with webhooks) until the webhook
// server answers, or a minute has passed.
func (e *Environment) WaitForWebhooks(probe client.Object) error {
	deadline := time.Now().Add(time.Minute)
	for {
		err := e.Client.Create(context.Background(), probe.DeepCopyObject().(client.Object), client.DryRunAll)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("webhooks never became reachable: %w", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Stop shuts the control plane down.
func (e *Environment) Stop() error {
	return e.env.Stop()
}

var (
	capiDirOnce sync.Once
	capiDir     string
	errCapiDir  error
)

// ProviderCRDPath is this repository's generated CRDs (config/crd/bases).
func ProviderCRDPath() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "config", "crd", "bases")
}

// ProviderWebhookPath is this repository's generated webhook configurations (config/webhook).
func ProviderWebhookPath() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "config", "webhook")
}

// ClusterAPICRDPath is core/config/crd/bases of the Cluster API module version
// this repository's go.mod requires, read from the module cache.
func ClusterAPICRDPath() (string, error) {
	return clusterAPIPath("core", "config", "crd", "bases")
}

// ClusterAPIBootstrapCRDPath is bootstrap/kubeadm/config/crd/bases of the Cluster API module: the CRDs of the
// kubeadm bootstrap provider (KubeadmConfig, KubeadmConfigTemplate).
func ClusterAPIBootstrapCRDPath() (string, error) {
	return clusterAPIPath("bootstrap", "kubeadm", "config", "crd", "bases")
}

// ClusterAPIBootstrapWebhookPath is the kubeadm bootstrap provider's webhook configurations. They carry the
// same names as the core ones: install them under other names.
func ClusterAPIBootstrapWebhookPath() (string, error) {
	return clusterAPIPath("bootstrap", "kubeadm", "config", "webhook", "manifests.yaml")
}

// ClusterAPIControlPlaneCRDPath is controlplane/kubeadm/config/crd/bases of the Cluster API module: the CRDs of
// the KubeadmControlPlane provider (KubeadmControlPlane, KubeadmControlPlaneTemplate).
func ClusterAPIControlPlaneCRDPath() (string, error) {
	return clusterAPIPath("controlplane", "kubeadm", "config", "crd", "bases")
}

// ClusterAPIControlPlaneWebhookPath is the KubeadmControlPlane provider's webhook configurations (same names as
// the core ones, like the bootstrap provider's).
func ClusterAPIControlPlaneWebhookPath() (string, error) {
	return clusterAPIPath("controlplane", "kubeadm", "config", "webhook", "manifests.yaml")
}

// clusterAPIPath is a path inside the Cluster API module's folder in the module cache; it must exist.
func clusterAPIPath(elem ...string) (string, error) {
	capiDirOnce.Do(func() {
		out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", clusterAPIModule).Output()
		if err != nil {
			var exitErr *exec.ExitError
			if errors.As(err, &exitErr) {
				err = fmt.Errorf("%w: %s", err, strings.TrimSpace(string(exitErr.Stderr)))
			}
			errCapiDir = fmt.Errorf("locating %s in the module cache (go list -m): %w", clusterAPIModule, err)
			return
		}
		capiDir = strings.TrimSpace(string(out))
	})
	if errCapiDir != nil {
		return "", errCapiDir
	}
	path := filepath.Join(append([]string{capiDir}, elem...)...)
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("not found in the Cluster API module: %w", err)
	}
	return path, nil
}

// WebhookInstallOptions are envtest's webhook settings after Start: the local serving host, port and
// certificate folder, and the CA that signed that certificate. Another process (e.g. the provider's manager
// in the end-to-end tests) can serve webhooks with that certificate (valid for 127.0.0.1).
func (e *Environment) WebhookInstallOptions() envtest.WebhookInstallOptions {
	return e.env.WebhookInstallOptions
}

// UserKubeConfig is a kubeconfig file's content for a new user of the control plane, authenticated by a client
// certificate and allowed nothing but what RBAC grants its name or groups: how a test runs a component with
// exactly the permissions its manifests give it.
func (e *Environment) UserKubeConfig(name string, groups ...string) ([]byte, error) {
	user, err := e.env.AddUser(envtest.User{Name: name, Groups: groups}, nil)
	if err != nil {
		return nil, fmt.Errorf("adding user %s: %w", name, err)
	}
	return user.KubeConfig()
}

// KubeConfig is a kubeconfig file's content that reaches the control plane as an administrator.
func (e *Environment) KubeConfig() []byte {
	return e.env.KubeConfig
}

// ClusterAPIWebhookPath is core/config/webhook/manifests.yaml of the Cluster API module: the core
// webhooks' configurations, for environments that run Cluster API's webhooks too.
func ClusterAPIWebhookPath() (string, error) {
	crds, err := ClusterAPICRDPath()
	if err != nil {
		return "", err
	}
	return filepath.Join(crds, "..", "..", "webhook", "manifests.yaml"), nil
}
