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

// Command vpsie-sim serves the VPSie API simulator (package vpsiesim) on a TCP address.
//
//	vpsie-sim --addr 127.0.0.1:8080 --client-id ID --client-secret S --token T --account-password P --boot-delay 5s
//
// Secrets may also come from the environment (VPSIE_SIM_CLIENT_ID, VPSIE_SIM_CLIENT_SECRET, VPSIE_SIM_TOKEN,
// VPSIE_SIM_ACCOUNT_PASSWORD) to keep them out of process listings. See test/vpsiesim/README.md.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/vpsieinc/cluster-api-provider-vpsie/test/vpsiesim"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "vpsie-sim:", err)
		os.Exit(1)
	}
}

type config struct {
	addr         string
	opts         vpsiesim.Options
	printCatalog bool
	quiet        bool
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	fs := flag.NewFlagSet("vpsie-sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := &config{}
	o := &c.opts
	f := &o.Faults
	var tokens, prefixes, catalog, neverBoot, faultRoutes, missingRoutes string
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8080", "listen address (port 0 picks a free port)")
	fs.StringVar(&o.ClientID, "client-id", os.Getenv("VPSIE_SIM_CLIENT_ID"), "client id accepted by POST /apps/v2/auth/from/api (env VPSIE_SIM_CLIENT_ID)")
	fs.StringVar(&o.ClientSecret, "client-secret", os.Getenv("VPSIE_SIM_CLIENT_SECRET"), "client secret (env VPSIE_SIM_CLIENT_SECRET)")
	fs.StringVar(&tokens, "token", os.Getenv("VPSIE_SIM_TOKEN"), "static API token(s) accepted in Vpsie-Auth, comma-separated (env VPSIE_SIM_TOKEN)")
	fs.StringVar(&o.AccountPassword, "account-password", os.Getenv("VPSIE_SIM_ACCOUNT_PASSWORD"), "account password DELETE /vm requires (env VPSIE_SIM_ACCOUNT_PASSWORD)")
	fs.DurationVar(&o.BootDelay, "boot-delay", vpsiesim.DefaultBootDelay, "time a created VM sits in /vm/pending (0: boots at once)")
	fs.DurationVar(&o.LBPendingDelay, "lb-pending-delay", vpsiesim.DefaultLBPendingDelay, "time a created load balancer sits in /api/v2/lbs/pending (0: at once)")
	fs.DurationVar(&o.DeleteDelay, "delete-delay", 0, "time a deleted VM stays listed (power 0) before it is gone")
	fs.DurationVar(&o.TokenLifetime, "token-lifetime", vpsiesim.DefaultTokenLifetime, "lifetime of access tokens issued by login")
	fs.StringVar(&prefixes, "vm-prefixes", strings.Join(vpsiesim.DefaultVMPrefixes, ","), "comma-separated prefixes under which the /vm routes are served")
	fs.StringVar(&catalog, "catalog", "", "catalogue JSON file (default: the built-in catalogue; see --print-catalog)")
	fs.BoolVar(&c.printCatalog, "print-catalog", false, "print the catalogue as JSON and exit")
	fs.Int64Var(&o.Seed, "seed", 0, "seed of the fault random generator (0: time-based)")
	fs.BoolVar(&o.IgnoreNumericFlags, "ignore-numeric-flags", false, "ignore create flags sent as JSON numbers, as the real API reportedly does")
	fs.BoolVar(&c.quiet, "quiet", false, "do not log requests")

	fs.IntVar(&f.RateLimit, "rate-limit", 0, "fault: requests allowed per rate-limit window, then 429 with Retry-After (0: unlimited)")
	fs.DurationVar(&f.RateLimitWindow, "rate-limit-window", time.Minute, "fault: rate-limit window")
	fs.Float64Var(&f.HTMLErrorRate, "html-error-rate", 0, "fault: share (0..1) of requests answered with an HTML 5xx page")
	fs.IntVar(&f.HTMLErrorStatus, "html-error-status", 502, "fault: status of the HTML error pages")
	fs.Float64Var(&f.ErrorOKRate, "error-ok-rate", 0, `fault: share (0..1) of requests answered HTTP 200 with "error":true`)
	fs.BoolVar(&f.ProcessBeforeFailing, "process-before-failing", false, "fault: the HTML / 200-with-error faults hit after the request took effect")
	fs.DurationVar(&f.Latency, "latency", 0, "fault: latency added to each request")
	fs.StringVar(&faultRoutes, "fault-routes", "", `fault: comma-separated "METHOD pattern" keys the HTML, error and latency faults are limited to`)
	fs.StringVar(&neverBoot, "never-boot", "", "fault: comma-separated hostnames (trailing * = prefix) whose VMs never boot")
	fs.IntVar(&f.VMQuota, "vm-quota", 0, "fault: most VMs the account may hold (0: unlimited)")
	fs.BoolVar(&f.RateLimitNoRetryAfter, "rate-limit-no-retry-after", false, "fault: answer 429 without a Retry-After header")
	fs.DurationVar(&f.ListGap, "list-gap", 0, "fault: time a VM that left /vm/pending is in neither list and not found by identifier")
	fs.DurationVar(&f.ListLag, "list-lag", 0, "fault: lag of the VM, LB and VPC lists behind creations and deletions")
	fs.IntVar(&f.PageCap, "page-cap", 0, "fault: most items per page of a paged list whatever limit asks (0: no cap)")
	fs.DurationVar(&f.PendingLag, "pending-lag", 0, "fault: time a created VM or LB is absent from its pending queue (and every list)")
	fs.DurationVar(&f.BootListedUnpowered, "boot-listed-unpowered", 0, "fault: time a booted VM is listed with power 0 and no addresses")
	fs.DurationVar(&f.AsyncVPCAttach, "async-vpc-attach", 0, "fault: delay between an accepted VPC attach and the VM joining the VPC")
	fs.BoolVar(&f.AlreadyAttachedError, "already-attached-error", false, `fault: re-attaching a VM to its VPC answers HTTP 200 "error":true, code 400`)
	fs.StringVar(&missingRoutes, "missing-routes", "", `fault: comma-separated "METHOD pattern" keys answered 404 Not found as if the route did not exist`)
	fs.Float64Var(&f.LostAnswerRate, "lost-answer-rate", 0, "fault: share (0..1) of mutating requests processed and then answered by closing the connection")
	fs.BoolVar(&f.VPCOmitNetworkSize, "vpc-omit-network-size", false, "fault: VPC objects omit network_size and send network_range as given")
	fs.BoolVar(&f.VPCNumbersAsStrings, "vpc-numbers-as-strings", false, "fault: numeric VPC fields are sent as JSON strings")

	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	o.Tokens = splitList(tokens)
	o.VMPrefixes = splitList(prefixes)
	f.Routes = splitList(faultRoutes)
	f.NeverBoot = splitList(neverBoot)
	f.MissingRoutes = splitList(missingRoutes)
	// The binary reads 0 as "no delay"; the library reads 0 as "default" and a negative value as "no delay".
	if o.BootDelay == 0 {
		o.BootDelay = -1
	}
	if o.LBPendingDelay == 0 {
		o.LBPendingDelay = -1
	}
	if catalog != "" {
		cat, err := vpsiesim.LoadCatalog(catalog)
		if err != nil {
			return nil, err
		}
		o.Catalog = cat
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func run(args []string, stdout, stderr io.Writer) error {
	c, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	logger := log.New(stderr, "vpsie-sim: ", log.LstdFlags|log.Lmicroseconds)
	if !c.quiet {
		c.opts.Logger = logger
	}
	sim := vpsiesim.New(c.opts)
	defer sim.Close()
	if c.printCatalog {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(sim.Catalog())
	}

	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	o := c.opts
	logger.Printf("credentials: login %s, %d static token(s), account password %s",
		setOrNot(o.ClientID != "" && o.ClientSecret != ""), len(o.Tokens), setOrNot(o.AccountPassword != ""))
	logger.Printf("boot delay %s, LB pending delay %s, delete delay %s, token lifetime %s, VM prefixes %v",
		o.BootDelay, o.LBPendingDelay, o.DeleteDelay, o.TokenLifetime, o.VMPrefixes)
	logger.Printf("listening on http://%s", ln.Addr())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Printf("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	logger.Printf("stopped")
	return nil
}

func setOrNot(b bool) string {
	if b {
		return "enabled"
	}
	return "disabled"
}
