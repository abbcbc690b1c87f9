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

package envtest

import (
	"context"
	"fmt"
	"os"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/scope"
)

// StartManager runs a controller-runtime manager against the environment, serving webhooks where the
// environment's webhook configurations point: setup registers webhooks and reconcilers on it. It returns once
// the webhooks answer a dry-run create of probe. stop ends the manager and waits for it.
func (e *Environment) StartManager(setup func(context.Context, ctrl.Manager) error, probe client.Object) (stop func(), err error) {
	mgr, err := ctrl.NewManager(e.Config, ctrl.Options{
		Scheme:        e.Scheme,
		Client:        scope.ManagerClientOptions(),
		Metrics:       metricsserver.Options{BindAddress: "0"},
		WebhookServer: webhook.NewServer(e.WebhookServerOptions()),
	})
	if err != nil {
		return nil, fmt.Errorf("creating the manager: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := setup(ctx, mgr); err != nil {
		cancel()
		return nil, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := mgr.Start(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "manager:", err)
		}
	}()
	stop = func() { cancel(); <-done }
	if err := e.WaitForWebhooks(probe); err != nil {
		stop()
		return nil, err
	}
	return stop, nil
}
