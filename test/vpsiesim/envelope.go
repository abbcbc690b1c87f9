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

package vpsiesim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Messages used by the simulator's error envelopes. They are the simulator's own choices (the real wording is
// unknown) and are listed in README.md.
const (
	msgNotFound         = "Not found"
	msgUnauthenticated  = "Please authenticate"
	msgRateLimited      = "Too many requests, please try again later."
	msgInjectedError    = "Something went wrong, please try again later"
	msgVMNotFound       = "VM not found"
	msgLBNotFound       = "Load balancer not found"
	msgVPCNotFound      = "VPC not found"
	msgBadBody          = "Invalid request body"
	msgInvalidPassword  = "Invalid account password"
	msgReasonRequired   = "deleteStatistic.reason is required"
	msgBadClientCreds   = "Invalid clientId or clientSecret"
	maxRequestBodyBytes = 4 << 20
)

// envelope is the success answer: {"error":false,"data":...,"total":N}.
type envelope struct {
	Error bool `json:"error"`
	Data  any  `json:"data"`
	Total int  `json:"total"`
}

// errorEnvelope is the error answer: {"error":true,"code":N,"message":"...","stack":""}.
type errorEnvelope struct {
	Error   bool   `json:"error"`
	Code    int    `json:"code"`
	Message string `json:"message"`
	Stack   string `json:"stack"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":true,"code":500,"message":"simulator could not encode its answer","stack":""}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeList answers a list; total is the size of the whole collection (before paging).
func writeList[T any](w http.ResponseWriter, items []T, total int) {
	if items == nil {
		items = []T{}
	}
	writeJSON(w, http.StatusOK, envelope{Data: items, Total: total})
}

// writeObject answers a single object (total 1).
func writeObject(w http.ResponseWriter, v any) {
	writeJSON(w, http.StatusOK, envelope{Data: v, Total: 1})
}

// writeBool answers data:true / data:false (total 0).
func writeBool(w http.ResponseWriter, b bool) {
	writeJSON(w, http.StatusOK, envelope{Data: b})
}

func writeError(w http.ResponseWriter, status int, message string) {
	writeErrorCode(w, status, status, message)
}

// writeErrorCode answers the error envelope with an HTTP status that may differ from the code inside
// (HTTP 200 with "error":true happens on the real API).
func writeErrorCode(w http.ResponseWriter, httpStatus, code int, message string) {
	writeJSON(w, httpStatus, errorEnvelope{Error: true, Code: code, Message: message})
}

func writeUnauthenticated(w http.ResponseWriter) {
	writeJSON(w, http.StatusUnauthorized, struct {
		Error   bool   `json:"error"`
		Message string `json:"message"`
	}{true, msgUnauthenticated})
}

func writeHTML(w http.ResponseWriter, status int) {
	body := fmt.Sprintf("<html>%d %s</html>", status, http.StatusText(status))
	w.Header().Set("Content-Type", "text/html")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// decodeBody reads a JSON body into v. It returns the raw bytes too (the VM create keeps them for inspection).
// On failure it answers 400 and returns ok=false.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) (raw []byte, ok bool) {
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBodyBytes))
	if err != nil {
		writeError(w, http.StatusBadRequest, msgBadBody)
		return nil, false
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		raw = []byte("{}")
	}
	if err := json.Unmarshal(raw, v); err != nil {
		var te *json.UnmarshalTypeError
		msg := msgBadBody
		if errors.As(err, &te) && te.Field != "" {
			msg = fmt.Sprintf("%s: field %q has the wrong type", msgBadBody, te.Field)
		} else if fe := (flexError{}); errors.As(err, &fe) {
			msg = msgBadBody + ": " + fe.msg
		}
		writeError(w, http.StatusBadRequest, msg)
		return nil, false
	}
	return raw, true
}

type flexError struct{ msg string }

func (e flexError) Error() string { return e.msg }

// flag is a 0/1 flag that the API takes as the strings "0"/"1". Older clients sent numbers, which the simulator
// accepts too (unless Options.IgnoreNumericFlags); booleans are accepted as well. Set records whether the field
// was present, Numeric whether it came as a JSON number.
type flag struct {
	Value   bool
	Set     bool
	Numeric bool
}

func (f *flag) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "null" {
		return nil
	}
	f.Set = true
	switch s {
	case `"1"`, `"true"`, "true":
		f.Value = true
	case `"0"`, `"false"`, `""`, "false":
		f.Value = false
	case "1":
		f.Value, f.Numeric = true, true
	case "0":
		f.Value, f.Numeric = false, true
	default:
		return flexError{fmt.Sprintf("flag value %s is not \"0\" or \"1\"", s)}
	}
	return nil
}

// flexInt accepts a JSON number or a string holding one ("24" or 24).
type flexInt struct {
	Value int
	Set   bool
}

func (n *flexInt) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "null" {
		return nil
	}
	s = strings.Trim(s, `"`)
	if s == "" {
		return nil
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return flexError{fmt.Sprintf("%s is not an integer", string(b))}
	}
	n.Value, n.Set = v, true
	return nil
}

// flexString accepts a JSON string or number (vpcId is an int in one VPSie source and a string in another).
type flexString string

func (fs *flexString) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "null" {
		return nil
	}
	if strings.HasPrefix(s, `"`) {
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*fs = flexString(v)
		return nil
	}
	if _, err := strconv.ParseFloat(s, 64); err != nil {
		return flexError{fmt.Sprintf("%s is neither a string nor a number", s)}
	}
	*fs = flexString(s)
	return nil
}

// deleteStatistic is the {"reason","note"} object VPSie's delete calls carry.
type deleteStatistic struct {
	Reason string `json:"reason"`
	Note   string `json:"note"`
}

// pageBounds applies ?offset=&limit= to a collection of n items. Missing or invalid values mean "everything".
// Handlers use Simulator.page, which adds Faults.PageCap.
func pageBounds(r *http.Request, n int) (lo, hi int) {
	q := r.URL.Query()
	lo, hi = 0, n
	if off, err := strconv.Atoi(q.Get("offset")); err == nil && off > 0 {
		lo = min(off, n)
	}
	if lim, err := strconv.Atoi(q.Get("limit")); err == nil && lim > 0 {
		hi = min(lo+lim, n)
	}
	return lo, hi
}

// apiTimeLayout is how timestamps (created_on, last_updated) appear in API answers: UTC ISO-8601 with
// milliseconds, as a JavaScript backend prints them (a simulator choice).
const apiTimeLayout = "2006-01-02T15:04:05.000Z"

func apiTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(apiTimeLayout)
}
