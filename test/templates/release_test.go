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

package templates

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/version"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	clusterctlv1 "sigs.k8s.io/cluster-api/cmd/clusterctl/api/v1alpha3"
	"sigs.k8s.io/cluster-api/cmd/clusterctl/client/cluster"
	"sigs.k8s.io/cluster-api/cmd/clusterctl/client/config"
	"sigs.k8s.io/cluster-api/cmd/clusterctl/client/repository"
	"sigs.k8s.io/cluster-api/cmd/clusterctl/client/yamlprocessor"
	utilyaml "sigs.k8s.io/cluster-api/util/yaml"
)

const (
	releaseVersion = "v0.1.0"
	providerLabel  = "cluster.x-k8s.io/provider"
)

// releaseManifests runs hack/release-manifests.sh (what `make release-manifests` runs) into a temporary folder.
func releaseManifests(t *testing.T) string {
	t.Helper()
	out := t.TempDir()
	cmd := exec.Command("hack/release-manifests.sh")
	cmd.Dir = repoRoot()
	// IMAGE unset: the script's default, as `make release-manifests` and the release workflow use it.
	cmd.Env = slices.DeleteFunc(os.Environ(), func(e string) bool { return strings.HasPrefix(e, "IMAGE=") })
	cmd.Env = append(cmd.Env, "OUT_DIR="+out, "RELEASE_VERSION="+releaseVersion)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("release-manifests: %v\n%s", err, b)
	}
	return out
}

// TestReleaseManifests checks out/ as `make release-manifests` writes it: the components clusterctl installs
// (one Namespace, every name with the provider's prefix, the container named manager, the provider label on
// everything, cert-manager certificates for the webhooks, the ClusterRole aggregated into Cluster API's
// manager, the image as a variable), the metadata, the flavors and the local clusterctl repository.
func TestReleaseManifests(t *testing.T) {
	g := NewWithT(t)
	out := releaseManifests(t)

	raw, err := os.ReadFile(filepath.Join(out, "infrastructure-components.yaml"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(string(raw)).To(ContainSubstring("image: ${CAPVPSIE_IMAGE:=ghcr.io/vpsieinc/cluster-api-provider-vpsie:" + releaseVersion + "}"))
	// Every variable of the components has a default: `clusterctl init` needs none set (an empty default
	// counts as none for clusterctl).
	_, err = yamlprocessor.NewSimpleProcessor().Process(raw, func(name string) (string, error) {
		return "", fmt.Errorf("variable %s is not set", name)
	})
	g.Expect(err).NotTo(HaveOccurred())
	objs, err := utilyaml.ToUnstructured(raw)
	g.Expect(err).NotTo(HaveOccurred())

	kinds := map[string][]unstructured.Unstructured{}
	for _, o := range objs {
		g.Expect(o.GetLabels()).To(HaveKeyWithValue(providerLabel, "infrastructure-vpsie"), "%s %s", o.GetKind(), o.GetName())
		kinds[o.GetKind()] = append(kinds[o.GetKind()], o)
		if o.GetNamespace() != "" {
			g.Expect(o.GetNamespace()).To(Equal("capvpsie-system"), "%s %s", o.GetKind(), o.GetName())
		}
	}
	g.Expect(kinds["Namespace"]).To(HaveLen(1))
	g.Expect(kinds["Namespace"][0].GetName()).To(Equal("capvpsie-system"))
	// Cluster-wide names are shared by every provider installed in the management cluster: all of ours carry
	// the provider's own prefix (the vSphere provider's "capv-" would have its ClusterRole, bindings and webhook
	// configurations overwrite ours). CRDs are named by their group and kind.
	for _, o := range objs {
		if o.GetKind() != "CustomResourceDefinition" {
			g.Expect(o.GetName()).To(HavePrefix("capvpsie-"), "%s %s", o.GetKind(), o.GetName())
		}
	}

	var crdNames []string
	for _, crd := range kinds["CustomResourceDefinition"] {
		crdNames = append(crdNames, crd.GetName())
		g.Expect(crd.GetLabels()).To(HaveKeyWithValue("cluster.x-k8s.io/v1beta2", "v1alpha1"))
	}
	g.Expect(crdNames).To(ConsistOf(
		"vpsieclusters.infrastructure.cluster.x-k8s.io", "vpsieclustertemplates.infrastructure.cluster.x-k8s.io",
		"vpsiemachines.infrastructure.cluster.x-k8s.io", "vpsiemachinetemplates.infrastructure.cluster.x-k8s.io"))

	g.Expect(kinds["Deployment"]).To(HaveLen(1))
	containers, _, _ := unstructured.NestedSlice(kinds["Deployment"][0].Object, "spec", "template", "spec", "containers")
	g.Expect(containers).To(HaveLen(1))
	g.Expect(containers[0]).To(HaveKeyWithValue("name", "manager"))
	args, _, _ := unstructured.NestedStringSlice(containers[0].(map[string]any), "args")
	g.Expect(args).To(ContainElement("--leader-elect"))

	g.Expect(kinds["Certificate"]).To(HaveLen(1))
	g.Expect(kinds["Issuer"]).To(HaveLen(1))
	dns, _, _ := unstructured.NestedStringSlice(kinds["Certificate"][0].Object, "spec", "dnsNames")
	g.Expect(dns).To(ContainElement("capvpsie-webhook-service.capvpsie-system.svc"))
	for _, kind := range []string{"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"} {
		g.Expect(kinds[kind]).To(HaveLen(1))
		g.Expect(kinds[kind][0].GetAnnotations()).To(HaveKeyWithValue("cert-manager.io/inject-ca-from", "capvpsie-system/capvpsie-serving-cert"))
		hooks, _, _ := unstructured.NestedSlice(kinds[kind][0].Object, "webhooks")
		for _, h := range hooks {
			g.Expect(str(h.(map[string]any), "clientConfig", "service", "name")).To(Equal("capvpsie-webhook-service"))
			g.Expect(str(h.(map[string]any), "clientConfig", "service", "namespace")).To(Equal("capvpsie-system"))
		}
	}
	aggregated := 0
	for _, cr := range kinds["ClusterRole"] {
		if cr.GetLabels()["cluster.x-k8s.io/aggregate-to-manager"] == "true" {
			aggregated++
		}
	}
	g.Expect(aggregated).To(Equal(1))
	g.Expect(kinds["Role"]).NotTo(BeEmpty(), "leader election")

	for _, f := range []string{"metadata.yaml", "cluster-template.yaml", "cluster-template-autoscaler.yaml",
		"cluster-template-topology.yaml", "cluster-template-without-lb.yaml", "clusterclass-vpsie.yaml", "clusterctl.yaml"} {
		g.Expect(filepath.Join(out, f)).To(BeAnExistingFile())
	}
	// Nothing released names a thing with the vSphere provider's prefix: not the components' objects, metrics or
	// variables, not the flavors' tags, files or scripts on the nodes.
	scanned := 0
	g.Expect(filepath.WalkDir(out, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(string(b)).NotTo(MatchRegexp(`(?i)\bcapv[-_/]`), path)
		scanned++
		return nil
	})).To(Succeed())
	g.Expect(scanned).To(BeNumerically(">", 10), "the release's files, the add-ons' and the local repository's")
	repo := filepath.Join(out, "repo", "infrastructure-vpsie", releaseVersion)
	for _, f := range []string{"infrastructure-components.yaml", "metadata.yaml", "cluster-template.yaml", "clusterclass-vpsie.yaml"} {
		g.Expect(filepath.Join(repo, f)).To(BeAnExistingFile())
	}
}

// TestClusterctlInit validates the release through clusterctl's own library, the code `clusterctl init
// --infrastructure vpsie` runs: the provider is read from the local repository named by out/clusterctl.yaml
// (versions, metadata, components with their variables, single target namespace, labels), and the
// installer's validation runs against the local API server with Cluster API core's components (built from
// the Cluster API module's config) queued too: one instance per provider, contracts compatible with the
// core provider's (metadata.yaml: release series 0.1 -> v1beta2), CRD names following the naming scheme.
//
// A full `clusterctl init` cannot run here: it downloads cert-manager and the core, kubeadm bootstrap and
// control-plane components from their release repositories (no network but the Go module proxy) and waits
// for cert-manager to issue a certificate (there is no cert-manager controller). The library calls below are
// init's validation without those two steps.
func TestClusterctlInit(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	out := releaseManifests(t)

	// A local repository for Cluster API core, from the module this repository builds against.
	capiDir, err := moduleDir("sigs.k8s.io/cluster-api")
	g.Expect(err).NotTo(HaveOccurred())
	capiVersion := filepath.Base(capiDir)[strings.Index(filepath.Base(capiDir), "@")+1:]
	coreRepo := filepath.Join(workDir, "repo", "cluster-api", capiVersion)
	g.Expect(os.MkdirAll(coreRepo, 0o755)).To(Succeed())
	kustomize := exec.Command("go", "tool", "-modfile=hack/tools/go.mod", "kustomize", "build", filepath.Join(capiDir, "core", "config", "default"))
	kustomize.Dir = repoRoot()
	core, err := kustomize.Output()
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(os.WriteFile(filepath.Join(coreRepo, "core-components.yaml"), core, 0o600)).To(Succeed())
	md, err := os.ReadFile(filepath.Join(capiDir, "metadata.yaml"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(os.WriteFile(filepath.Join(coreRepo, "metadata.yaml"), md, 0o600)).To(Succeed())

	ourConfig, err := os.ReadFile(filepath.Join(out, "clusterctl.yaml"))
	g.Expect(err).NotTo(HaveOccurred())
	cfgFile := filepath.Join(t.TempDir(), "clusterctl.yaml")
	cfgText := string(ourConfig) + "- name: cluster-api\n  type: CoreProvider\n  url: file://" + filepath.Join(coreRepo, "core-components.yaml") + "\n"
	g.Expect(os.WriteFile(cfgFile, []byte(cfgText), 0o600)).To(Succeed())

	cfg, err := config.New(ctx, cfgFile)
	g.Expect(err).NotTo(HaveOccurred())
	vpsie, err := cfg.Providers().Get("vpsie", clusterctlv1.InfrastructureProviderType)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(vpsie.ManifestLabel()).To(Equal("infrastructure-vpsie"))

	repo, err := repository.New(ctx, vpsie, cfg)
	g.Expect(err).NotTo(HaveOccurred())
	versions, err := repo.GetVersions(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(versions).To(ContainElement(releaseVersion))
	meta, err := repo.Metadata(releaseVersion).Get(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	series := meta.GetReleaseSeriesForVersion(mustSemver(t, releaseVersion))
	g.Expect(series).NotTo(BeNil())
	g.Expect(series.Contract).To(Equal("v1beta2"))

	// clusterctl accepts only fully qualified image names (with a registry): the release's default is the image
	// the release workflow publishes, so `clusterctl init` needs no CAPVPSIE_IMAGE; CAPVPSIE_IMAGE still overrides it.
	comps, err := repo.Components().Get(ctx, repository.ComponentsOptions{Version: releaseVersion})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(comps.Images()).To(ConsistOf("ghcr.io/vpsieinc/cluster-api-provider-vpsie:" + releaseVersion))
	image := "localhost/vpsieinc/cluster-api-provider-vpsie:" + releaseVersion
	t.Setenv("CAPVPSIE_IMAGE", image)
	comps, err = repo.Components().Get(ctx, repository.ComponentsOptions{Version: releaseVersion})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(comps.TargetNamespace()).To(Equal("capvpsie-system"))
	g.Expect(comps.Variables()).To(ContainElements("CAPVPSIE_IMAGE", "CAPVPSIE_DIAGNOSTICS_ADDRESS", "CAPVPSIE_INSECURE_DIAGNOSTICS"))
	g.Expect(comps.Images()).To(ConsistOf(image))
	for _, o := range comps.Objs() {
		g.Expect(o.GetLabels()).To(HaveKeyWithValue("clusterctl.cluster.x-k8s.io", ""), "%s %s", o.GetKind(), o.GetName())
	}

	coreProvider, err := cfg.Providers().Get("cluster-api", clusterctlv1.CoreProviderType)
	g.Expect(err).NotTo(HaveOccurred())
	coreRepoClient, err := repository.New(ctx, coreProvider, cfg)
	g.Expect(err).NotTo(HaveOccurred())
	coreComps, err := coreRepoClient.Components().Get(ctx, repository.ComponentsOptions{Version: capiVersion})
	g.Expect(err).NotTo(HaveOccurred())

	kubeconfig := writeKubeconfig(t)
	mgmt := cluster.New(cluster.Kubeconfig{Path: kubeconfig}, cfg)
	g.Expect(mgmt.ProviderInventory().EnsureCustomResourceDefinitions(ctx)).To(Succeed())
	installer := mgmt.ProviderInstaller()
	installer.Add(coreComps)
	installer.Add(comps)
	g.Expect(installer.Validate(ctx)).To(Succeed())
}

func mustSemver(t *testing.T, v string) *version.Version {
	t.Helper()
	parsed, err := version.ParseSemantic(v)
	if err != nil {
		t.Fatal(err)
	}
	return parsed
}

// writeKubeconfig writes a kubeconfig for the local control plane.
func writeKubeconfig(t *testing.T) string {
	t.Helper()
	c := env.Config
	kc := clientcmdapi.NewConfig()
	kc.Clusters["envtest"] = &clientcmdapi.Cluster{Server: c.Host, CertificateAuthorityData: c.CAData}
	kc.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: c.CertData, ClientKeyData: c.KeyData, Token: c.BearerToken}
	kc.Contexts["envtest"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "admin"}
	kc.CurrentContext = "envtest"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestGenerateFromLocalRepository: with out/clusterctl.yaml, `clusterctl generate cluster --infrastructure
// vpsie:<version> --flavor <flavor>` finds every flavor in the local repository, and the topology flavor brings
// the ClusterClass along.
func TestGenerateFromLocalRepository(t *testing.T) {
	out := releaseManifests(t)
	env := exampleEnv(t)
	for flavor := range flavors {
		t.Run(flavor, func(t *testing.T) {
			g := NewWithT(t)
			args := []string{"generate", "cluster", "capvpsie-repo", "--config", filepath.Join(out, "clusterctl.yaml"),
				"--infrastructure", "vpsie:" + releaseVersion, "--target-namespace", "default",
				"--kubernetes-version", "v1.34.1", "--worker-machine-count", "1"}
			if flavor != "default" {
				args = append(args, "--flavor", flavor)
			}
			rendered, err := clusterctl(env, args...)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(rendered).NotTo(ContainSubstring("${"))
			objs, err := utilyaml.ToUnstructured([]byte(rendered))
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(find(objs, "Cluster")).NotTo(BeNil())
			if flavor == "topology" {
				g.Expect(find(objs, "ClusterClass")).NotTo(BeNil())
			}
		})
	}
}

// TestClusterctlConfigNamesTheReleases: the shipped clusterctl.yaml gives clusterctl the vpsie infrastructure
// provider at the GitHub releases the release workflow publishes (.github/workflows/release.yaml attaches the
// file named here).
func TestClusterctlConfigNamesTheReleases(t *testing.T) {
	g := NewWithT(t)
	cfg, err := config.New(context.Background(), filepath.Join(repoRoot(), "clusterctl.yaml"))
	g.Expect(err).NotTo(HaveOccurred())
	p, err := cfg.Providers().Get("vpsie", clusterctlv1.InfrastructureProviderType)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(p.URL()).To(Equal("https://github.com/vpsieinc/cluster-api-provider-vpsie/releases/latest/infrastructure-components.yaml"))
	workflow, err := os.ReadFile(filepath.Join(repoRoot(), ".github", "workflows", "release.yaml"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(string(workflow)).To(SatisfyAll(ContainSubstring("out/infrastructure-components.yaml"),
		ContainSubstring("out/metadata.yaml"), ContainSubstring("out/cluster-template*.yaml"),
		ContainSubstring(`make image VERSION="$TAG" PUSH="$IMAGE:$TAG"`), ContainSubstring("IMAGE: ghcr.io/vpsieinc/cluster-api-provider-vpsie"),
		ContainSubstring(`--notes-file "docs/release-notes/$TAG.md"`)))
	// The workflow's image step is `make image` with PUSH: the tarball built and that very index pushed.
	cmd := exec.Command("make", "-n", "image", "VERSION=v9.9.9", "PUSH=manager:v9.9.9")
	cmd.Dir = repoRoot()
	plan, err := cmd.CombinedOutput()
	g.Expect(err).NotTo(HaveOccurred(), "%s", plan)
	g.Expect(strings.ReplaceAll(string(plan), "\\\n", " ")).To(MatchRegexp(`go run ./hack/image -out \S+/manager-image.tar -version v9.9.9 [^\n]*-push "manager:v9.9.9"`))
}

// TestReleaseNotesNameTheRename: the release notes the workflow prepends to GitHub's tell users of the prefix
// change (vSphere's capv to capvpsie), for every name it touched.
func TestReleaseNotesNameTheRename(t *testing.T) {
	g := NewWithT(t)
	notes, err := os.ReadFile(filepath.Join(repoRoot(), "docs", "release-notes", releaseVersion+".md"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(string(notes)).To(SatisfyAll(ContainSubstring("`capv-system`"), ContainSubstring("`capvpsie-system`"),
		ContainSubstring("`capvpsie_*`"), ContainSubstring("`capvpsie-managed`"), ContainSubstring("`CAPVPSIE_*`")))
}

// TestReadmeUseOnRealVPSie: the README's "Use on real VPSie" commands set exactly the variables the default
// flavor requires, and those are VPSie identifiers only: everything else (package source, network, firewall,
// CNI, credentials Secret, image) has a default. Builtins come from clusterctl's flags (the Kubernetes version).
func TestReadmeUseOnRealVPSie(t *testing.T) {
	g := NewWithT(t)
	readme, err := os.ReadFile(filepath.Join(repoRoot(), "README.md"))
	g.Expect(err).NotTo(HaveOccurred())
	_, section, ok := strings.Cut(string(readme), "\n## Use on real VPSie\n")
	g.Expect(ok).To(BeTrue())
	_, block, ok := strings.Cut(section, "```sh\n")
	g.Expect(ok).To(BeTrue())
	block, _, _ = strings.Cut(block, "```")
	script := strings.ReplaceAll(block, "\\\n", " ")

	assignment := regexp.MustCompile(`^[A-Z][A-Z0-9_]*=`)
	set := map[string]bool{}
	for _, line := range strings.Split(script, "\n") {
		fields := strings.Fields(line)
		if len(fields) > 0 && fields[0] == "export" {
			fields = fields[1:]
		}
		for _, f := range fields {
			if !assignment.MatchString(f) {
				break
			}
			set[strings.SplitN(f, "=", 2)[0]] = true
		}
	}
	required, _ := listVariables(t, flavors["default"])
	var want []string
	for _, v := range required {
		if !slices.Contains(builtinVariables, v) {
			want = append(want, v)
		}
	}
	g.Expect(slices.Sorted(maps.Keys(set))).To(ConsistOf(want), "the README sets what the default flavor requires, no more")
	docs := documentedVariables(t)
	for v := range set {
		g.Expect(v).To(HavePrefix("VPSIE_"))
		g.Expect(docs[v].Meaning).To(ContainSubstring("identifier"), "%s is a VPSie identifier", v)
	}
	g.Expect(script).To(ContainSubstring("--kubernetes-version"))
}
