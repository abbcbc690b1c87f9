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

// Package templates tests the provider's packaging: the clusterctl flavors in templates/ (rendered by the real
// clusterctl, then applied with server-side dry-run to a real API server holding the CRDs of Cluster API core,
// the kubeadm bootstrap and control-plane providers and this provider, with this provider's webhooks served),
// the documented variables, and the release artifacts of `make release-manifests` (validated through
// clusterctl's library the way `clusterctl init` validates them).
package templates

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	kruntime "k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	infrav1 "github.com/vpsieinc/cluster-api-provider-vpsie/api/v1alpha1"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/webhooks"
	"github.com/vpsieinc/cluster-api-provider-vpsie/test/envtest"
)

var (
	// env is the local control plane every rendered object is dry-run against.
	env *envtest.Environment
	// clusterctlBin is clusterctl built from the Cluster API module pinned in hack/tools/go.mod.
	clusterctlBin string
	// workDir is a scratch folder shared by the tests (clusterctl's config home, built binaries).
	workDir string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	workDir, err = os.MkdirTemp("", "capvpsie-templates-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = os.RemoveAll(workDir) }()

	clusterctlBin = filepath.Join(workDir, "clusterctl")
	build := exec.Command("go", "build", "-modfile=hack/tools/go.mod", "-o", clusterctlBin,
		"sigs.k8s.io/cluster-api/cmd/clusterctl")
	build.Dir = repoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building clusterctl: %v\n%s", err, out)
		return 1
	}

	capiDir, err := moduleDir("sigs.k8s.io/cluster-api")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	env, err = envtest.Start(envtest.Options{
		CRDDirectoryPaths: []string{
			envtest.ProviderCRDPath(),
			filepath.Join(capiDir, "bootstrap", "kubeadm", "config", "crd", "bases"),
			filepath.Join(capiDir, "controlplane", "kubeadm", "config", "crd", "bases"),
		},
		AddToScheme:  []func(*kruntime.Scheme) error{infrav1.AddToScheme},
		WebhookPaths: []string{envtest.ProviderWebhookPath()},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = env.Stop() }()

	probe := &infrav1.VPSieMachine{}
	probe.Namespace, probe.Name = "default", "webhook-probe"
	probe.Spec = infrav1.VPSieMachineSpec{Plan: "plan", Image: "image"}
	stop, err := env.StartManager(func(_ context.Context, mgr ctrl.Manager) error {
		return webhooks.SetupWithManager(mgr)
	}, probe)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer stop()
	return m.Run()
}

// k8s is the client of the local control plane.
func k8s() client.Client { return env.Client }

// repoRoot is the repository's root folder.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// moduleDir is the folder of a module this repository requires, in the module cache.
func moduleDir(module string) (string, error) {
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", module)
	cmd.Dir = repoRoot()
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("locating %s (go list -m): %w", module, err)
	}
	return string(trimNewline(out)), nil
}

func trimNewline(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}
