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

package cloudinit

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"errors"
	"fmt"
)

// DefaultSizeLimit is the default of the most user data a create may carry, counted as sent: base64-encoded,
// the form of VPSie's userData field. VPSie documents no limit. 64 KiB is what the clouds that document one
// allow at most (OpenStack Nova's 65,535 encoded bytes, Azure's 64 KiB; EC2 allows 16 KiB, Hetzner 32 KiB), and
// cloud-init's NoCloud source, which VPSie uses, sets none of its own. A larger value is a guess about VPSie.
const DefaultSizeLimit = 64 * 1024

// ErrTooLarge means the user data does not fit the limit even compressed.
var ErrTooLarge = errors.New("user data too large")

// TooLargeError gives the sizes of user data that does not fit, each counted as sent (base64).
type TooLargeError struct {
	// Plain is the size of the user data as built, Compressed its size gzip-compressed.
	Plain, Compressed int
	// Limit is the most that may be sent.
	Limit int
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%v: %d bytes as sent (base64), %d gzip-compressed, over the limit of %d",
		ErrTooLarge, e.Plain, e.Compressed, e.Limit)
}

// Is makes errors.Is(err, ErrTooLarge) hold.
func (e *TooLargeError) Is(target error) bool { return target == ErrTooLarge }

// Fit returns data when its encoded size is within limit (limit <= 0: no limit), else data gzip-compressed
// when that fits (compressed reports it), else a *TooLargeError. The whole message is compressed, not its
// parts: cloud-init decompresses gzip user data before it reads anything else, so every MIME header, the
// merge types that keep kubeadm's commands first among them, is read as if nothing had been compressed;
// a compressed part, by contrast, is rebuilt by cloud-init from its content, and which of its headers survive
// is not documented. The output is deterministic (no name, no time in the gzip header).
func Fit(data []byte, limit int) (out []byte, compressed bool, err error) {
	plain := base64.StdEncoding.EncodedLen(len(data))
	if limit <= 0 || plain <= limit {
		return data, false, nil
	}
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, false, err
	}
	if _, err := zw.Write(data); err != nil {
		return nil, false, err
	}
	if err := zw.Close(); err != nil {
		return nil, false, err
	}
	if packed := base64.StdEncoding.EncodedLen(buf.Len()); packed > limit {
		return nil, false, &TooLargeError{Plain: plain, Compressed: packed, Limit: limit}
	}
	return buf.Bytes(), true, nil
}
