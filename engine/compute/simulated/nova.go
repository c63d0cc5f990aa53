package simulated

import (
	"fmt"
	"net/http"

	"github.com/kaifuku-ha/kaifuku/engine/compute"
)

// Nova's vm_state values (nova/compute/vm_states.py).
var vmStates = []string{
	"active", "building", "paused", "suspended", "stopped", "rescued", "resized",
	"soft-deleted", "deleted", "error", "shelved", "shelved_offloaded",
}

// Nova's task_state values (nova/compute/task_states.py).
var taskStates = []string{
	"scheduling", "block_device_mapping", "networking", "spawning",
	"image_snapshot", "image_snapshot_pending", "image_pending_upload", "image_uploading",
	"image_backup", "updating_password",
	"resize_prep", "resize_migrating", "resize_migrated", "resize_finish",
	"resize_reverting", "resize_confirming",
	"rebooting", "reboot_pending", "reboot_started",
	"rebooting_hard", "reboot_pending_hard", "reboot_started_hard",
	"pausing", "unpausing", "suspending", "resuming",
	"powering-off", "powering-on", "rescuing", "unrescuing",
	"rebuilding", "rebuild_block_device_mapping", "rebuild_spawning",
	"migrating", "deleting", "soft-deleting", "restoring",
	"shelving", "shelving_image_pending_upload", "shelving_image_uploading",
	"shelving_offloading", "unshelving",
}

// Nova's power_state values (nova/compute/power_state.py).
const (
	powerNoState   = 0
	powerRunning   = compute.PowerRunning
	powerPaused    = 3
	powerShutdown  = compute.PowerShutdown
	powerCrashed   = 6
	powerSuspended = 7
)

var powerStates = []int{powerNoState, powerRunning, powerPaused, powerShutdown, powerCrashed, powerSuspended}

func contains[T comparable](list []T, v T) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// defaultPowerState is the power_state a server in vm_state has when the
// fixture does not say.
func defaultPowerState(vmState string) int {
	switch vmState {
	case "active", "rescued", "resized":
		return powerRunning
	case "stopped", "shelved":
		return powerShutdown
	case "paused":
		return powerPaused
	case "suspended":
		return powerSuspended
	}
	return powerNoState
}

// serverStatus is the API's "status" of a server, derived as Nova's
// nova/api/openstack/common.py does from vm_state and task_state (the subset
// of its table that the simulated states can reach).
func serverStatus(vmState, taskState string) string {
	switch taskState {
	case "rebuilding", "rebuild_block_device_mapping", "rebuild_spawning":
		if vmState == "active" || vmState == "stopped" || vmState == "error" {
			return "REBUILD"
		}
	case "migrating":
		if vmState == "active" {
			return "MIGRATING"
		}
	case "deleting", "soft-deleting":
		if vmState != "deleted" {
			return "ACTIVE"
		}
	}
	switch vmState {
	case "active":
		return "ACTIVE"
	case "building":
		return "BUILD"
	case "paused":
		return "PAUSED"
	case "suspended":
		return "SUSPENDED"
	case "stopped":
		return "SHUTOFF"
	case "rescued":
		return "RESCUE"
	case "resized":
		return "VERIFY_RESIZE"
	case "soft-deleted":
		return "SOFT_DELETED"
	case "deleted":
		return "DELETED"
	case "error":
		return "ERROR"
	case "shelved":
		return "SHELVED"
	case "shelved_offloaded":
		return "SHELVED_OFFLOADED"
	}
	return "UNKNOWN"
}

// APIError is an error answer of the simulated Nova API: the HTTP status code
// and the message Nova puts in its error body. It unwraps to the compute
// error kind of its code, so errors.Is(err, compute.ErrConflict) works, and an
// HTTP front end can answer with the same code and message.
type APIError struct {
	Code    int
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s (HTTP %d)", e.Message, e.Code)
}

// Unwrap returns the compute error kind of the status code.
func (e *APIError) Unwrap() error {
	switch e.Code {
	case http.StatusBadRequest:
		return compute.ErrInvalid
	case http.StatusForbidden:
		return compute.ErrForbidden
	case http.StatusNotFound:
		return compute.ErrNotFound
	case http.StatusConflict:
		return compute.ErrConflict
	}
	return compute.ErrUnavailable
}

func apiError(code int, format string, args ...any) error {
	return &APIError{Code: code, Message: fmt.Sprintf(format, args...)}
}

func errInstanceNotFound(id string) error {
	return apiError(http.StatusNotFound, "Instance %s could not be found.", id)
}

func errInvalidState(action, id, attr, state string) error {
	return apiError(http.StatusConflict, "Cannot '%s' instance %s while it is in %s %s", action, id, attr, state)
}
