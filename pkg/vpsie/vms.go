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

package vpsie

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
)

// pendingVMsPath is the pending-creation queue; it exists only under /apps/v2.
const pendingVMsPath = "/apps/v2/vm/pending"

// ListVMsOptions filters ListVMs.
type ListVMsOptions struct {
	// ProjectID restricts the list to one VPSie project.
	ProjectID string
}

// ListVMs returns every VM of the account (or project), following offset/limit paging.
func (c *Client) ListVMs(ctx context.Context, opts ListVMsOptions) ([]VM, error) {
	base := url.Values{}
	if opts.ProjectID != "" {
		base.Set("projectId", opts.ProjectID)
	}
	return listPaged(ctx, c, "ListVMs", c.vmPrefix+"/vm", base, func(v VM) string {
		if v.Identifier == "" && v.ID == 0 {
			return ""
		}
		return string(v.Identifier) + "/" + strconv.FormatInt(int64(v.ID), 10)
	})
}

// GetVM returns one VM with its tags and addresses. A VM that does not exist (data:false, or
// a not-found message) is a NotFound error.
func (c *Client) GetVM(ctx context.Context, identifier string) (*VMDetails, error) {
	if err := requireID("GetVM", "identifier", identifier); err != nil {
		return nil, err
	}
	res, err := c.do(ctx, request{op: "GetVM", method: http.MethodGet,
		path: c.vmPrefix + "/vm/" + url.PathEscape(identifier), idempotent: true})
	if err != nil {
		return nil, err
	}
	var out VMDetails
	if err := decodeObject("GetVM", res, &out); err != nil {
		return nil, c.fail(asError(err))
	}
	if out.VM.Identifier == "" && out.VM.ID == 0 {
		// Tolerate an answer whose data is the VM itself, without the vmData wrapper.
		var bare VM
		if json.Unmarshal(res.data, &bare) == nil && (bare.Identifier != "" || bare.ID != 0) {
			return &VMDetails{VM: bare}, nil
		}
		return nil, c.fail(&Error{Operation: "GetVM", HTTPStatus: res.status, Class: ClassNotFound,
			Message: "answer carried no vmData"})
	}
	return &out, nil
}

// createVMWire is CreateVMRequest as sent: userData base64-encoded.
type createVMWire struct {
	CreateVMRequest
	UserData string `json:"userData,omitempty"`
}

// CreateVM asks VPSie to create a VM. It is never retried: the answer carries no id, so a
// repeated create after a lost answer would make a second server. Find the VM afterwards with
// ListPendingVMs / ListVMs and FindVMsByHostname, and look it up before every create.
func (c *Client) CreateVM(ctx context.Context, req CreateVMRequest) error {
	if req.Hostname == "" || req.ResourceIdentifier == "" || req.OSIdentifier == "" || req.DcIdentifier == "" {
		return c.fail(refusedBeforeSending(&Error{Operation: "CreateVM", Class: ClassTerminal,
			Message: "hostname, resourceIdentifier, osIdentifier and dcIdentifier are required"}))
	}
	wire := createVMWire{CreateVMRequest: req}
	if len(req.UserData) > 0 {
		wire.UserData = base64.StdEncoding.EncodeToString(req.UserData)
	}
	_, err := c.do(ctx, request{op: "CreateVM", method: http.MethodPost, path: c.vmPrefix + "/vm",
		body: wire, notFoundIsTerminal: true})
	return err
}

// DeleteVM deletes a VM. VPSie requires the account password and a reason; an empty reason is
// replaced by DefaultDeleteReason. A delete of a known identifier is idempotent and retried;
// callers should treat IsNotFound as "already gone".
func (c *Client) DeleteVM(ctx context.Context, identifier, password, reason, note string) error {
	if err := requireID("DeleteVM", "identifier", identifier); err != nil {
		return err
	}
	if password == "" {
		return c.fail(refusedBeforeSending(&Error{Operation: "DeleteVM", Class: ClassTerminal,
			Message: "the VPSie account password is required to delete a VM"}))
	}
	body := struct {
		VMIdentifier    string          `json:"vmIdentifier"`
		Password        string          `json:"password"`
		DeleteStatistic DeleteStatistic `json:"deleteStatistic"`
	}{identifier, password, deleteStatistic(reason, note)}
	_, err := c.do(ctx, request{op: "DeleteVM", method: http.MethodDelete, path: c.vmPrefix + "/vm",
		body: body, idempotent: true})
	return err
}

// StartVM powers a VM on.
func (c *Client) StartVM(ctx context.Context, identifier string) error {
	return c.vmAction(ctx, "StartVM", "/vm/start", identifier)
}

// StopVM powers a VM off.
func (c *Client) StopVM(ctx context.Context, identifier string) error {
	return c.vmAction(ctx, "StopVM", "/vm/stop", identifier)
}

// RestartVM restarts a VM.
func (c *Client) RestartVM(ctx context.Context, identifier string) error {
	return c.vmAction(ctx, "RestartVM", "/vm/restart", identifier)
}

// vmAction posts {"vmIdentifier"}. Power actions are POSTs with side effects, so they are not
// retried automatically; the caller re-reads the VM and decides.
func (c *Client) vmAction(ctx context.Context, op, suffix, identifier string) error {
	if err := requireID(op, "identifier", identifier); err != nil {
		return err
	}
	body := map[string]string{"vmIdentifier": identifier}
	_, err := c.do(ctx, request{op: op, method: http.MethodPost, path: c.vmPrefix + suffix, body: body})
	return err
}

// GetVMStatus returns the runtime status of a VM.
func (c *Client) GetVMStatus(ctx context.Context, identifier string) (*VMStatus, error) {
	if err := requireID("GetVMStatus", "identifier", identifier); err != nil {
		return nil, err
	}
	res, err := c.do(ctx, request{op: "GetVMStatus", method: http.MethodGet,
		path: c.vmPrefix + "/vm/status/" + url.PathEscape(identifier), idempotent: true})
	if err != nil {
		return nil, err
	}
	var out VMStatus
	if err := decodeObject("GetVMStatus", res, &out); err != nil {
		return nil, c.fail(asError(err))
	}
	return &out, nil
}

// ListPendingVMs returns the queue of VMs being created (always under /apps/v2).
func (c *Client) ListPendingVMs(ctx context.Context) ([]PendingVM, error) {
	return getList[PendingVM](ctx, c, "ListPendingVMs", pendingVMsPath)
}

// AddVMTags adds tags to a VM.
func (c *Client) AddVMTags(ctx context.Context, identifier string, tags []string) error {
	if err := requireID("AddVMTags", "identifier", identifier); err != nil {
		return err
	}
	if tags == nil {
		tags = []string{}
	}
	body := struct {
		VMIdentifier string   `json:"vmIdentifier"`
		Tags         []string `json:"tags"`
	}{identifier, tags}
	_, err := c.do(ctx, request{op: "AddVMTags", method: http.MethodPost, path: c.vmPrefix + "/vm/addtags", body: body})
	return err
}

// deleteStatistic fills VPSie's mandatory reason.
func deleteStatistic(reason, note string) DeleteStatistic {
	if reason == "" {
		reason = DefaultDeleteReason
	}
	return DeleteStatistic{Reason: reason, Note: note}
}

// requireID refuses an empty identifier before it turns "DELETE /vpc/{id}" into "DELETE /vpc/".
func requireID(op, name, v string) error {
	if v != "" {
		return nil
	}
	e := refusedBeforeSending(&Error{Operation: op, Class: ClassTerminal, Message: name + " is required"})
	errorsTotal.WithLabelValues(op, string(e.Class)).Inc()
	return e
}

func asError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Class: ClassTransient, Message: "unexpected error", Err: err}
}
