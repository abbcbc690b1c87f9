//go:build tools

// Package kubeassets only pins the commands built by hack/kube-assets.sh.
package kubeassets

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
)
