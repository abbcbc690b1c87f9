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
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
)

// Orphans names the objects whose owner is gone: in namespace, of every kind the API server lists there, and
// the node Leases (kube-node-lease) of Nodes that no longer exist. Owner references are how Cluster API, its
// kubeadm bootstrap provider, Deployments and kwok's leases leave their objects to the garbage collector; an
// orphan that stays means nothing collects them (or an owner reference is wrong).
func (h *Harness) Orphans(ctx context.Context, namespace string) ([]string, error) {
	cfg := rest.CopyConfig(h.Env.Config)
	cfg.WarningHandler = rest.NoWarnings{} // listing every kind lists deprecated ones (v1 Endpoints) too
	disco, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	meta, err := metadata.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	lists, err := disco.ServerPreferredNamespacedResources()
	if err != nil && !discovery.IsGroupDiscoveryFailedError(err) {
		return nil, err
	}
	var orphans []string
	for _, list := range lists {
		gv, err := schema.ParseGroupVersion(list.GroupVersion)
		if err != nil {
			return nil, err
		}
		for _, r := range list.APIResources {
			if !slices.Contains(r.Verbs, "list") || r.Name == "events" {
				continue
			}
			ns := namespace
			if gv.Group == "coordination.k8s.io" && r.Name == "leases" {
				ns = corev1.NamespaceNodeLease
			}
			objs, err := meta.Resource(gv.WithResource(r.Name)).Namespace(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				return nil, fmt.Errorf("listing %s: %w", r.Name, err)
			}
			for _, o := range objs.Items {
				for _, ref := range o.OwnerReferences {
					alive, err := h.ownerExists(ctx, meta, disco, ns, ref)
					if err != nil {
						return nil, err
					}
					if !alive {
						orphans = append(orphans, fmt.Sprintf("%s %s/%s (owner %s %s gone)", r.Kind, ns, o.Name, ref.Kind, ref.Name))
					}
				}
			}
		}
	}
	sort.Strings(orphans)
	return orphans, nil
}

// ownerExists reports whether the object an owner reference names still exists with its uid.
func (h *Harness) ownerExists(ctx context.Context, meta metadata.Interface, disco discovery.DiscoveryInterface, namespace string, ref metav1.OwnerReference) (bool, error) {
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil {
		return false, err
	}
	resources, err := disco.ServerResourcesForGroupVersion(ref.APIVersion)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	for _, r := range resources.APIResources {
		if r.Kind != ref.Kind || strings.Contains(r.Name, "/") { // not a subresource
			continue
		}
		client := meta.Resource(gv.WithResource(r.Name))
		var get metadata.ResourceInterface = client
		if r.Namespaced {
			get = client.Namespace(namespace)
		}
		owner, err := get.Get(ctx, ref.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		return owner.UID == ref.UID, nil
	}
	return false, fmt.Errorf("owner kind %s is not served in %s", ref.Kind, ref.APIVersion)
}
