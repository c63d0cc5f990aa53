package api

import (
	"errors"

	"github.com/google/uuid"

	"github.com/kaifuku-ha/kaifuku/engine/db"
	"github.com/kaifuku-ha/kaifuku/engine/recovery"
)

// vmoveView is a vm move as Masakari shows it (from microversion 1.3).
type vmoveView struct {
	ID               int64   `json:"id"`
	UUID             string  `json:"uuid"`
	NotificationUUID string  `json:"notification_uuid"`
	InstanceUUID     string  `json:"instance_uuid"`
	InstanceName     string  `json:"instance_name"`
	SourceHost       *string `json:"source_host"`
	DestHost         *string `json:"dest_host"`
	StartTime        *string `json:"start_time"`
	EndTime          *string `json:"end_time"`
	Type             *string `json:"type"`
	Status           *string `json:"status"`
	Message          *string `json:"message"`
	recordTimes
}

func viewVMove(v db.VMove) vmoveView {
	return vmoveView{ID: v.ID, UUID: v.UUID, NotificationUUID: v.NotificationUUID, InstanceUUID: v.InstanceUUID,
		InstanceName: v.InstanceName, SourceHost: v.SourceHost, DestHost: v.DestHost, StartTime: stampPtr(v.StartTime),
		EndTime: stampPtr(v.EndTime), Type: v.Type, Status: v.Status, Message: v.Message,
		recordTimes: timesOf(v.CreatedAt, v.UpdatedAt)}
}

// hostNotification checks that id is a host notification, the only kind
// with vm moves, as Masakari does: 404 for an unknown one, 400 for another
// type.
func (s *Server) hostNotification(req *request, id string) error {
	n, err := s.notification(req, id)
	if err != nil {
		return err
	}
	if n.Type != recovery.TypeComputeHost {
		return errorf(400, "This notification %s without vm moves.", id)
	}
	return nil
}

func (s *Server) listVMoves(req *request) (int, any, error) {
	id := req.r.PathValue("notification_id")
	p, err := req.page(s.settings.Load().MaxLimit)
	if err != nil {
		return 0, nil, err
	}
	if err := s.hostNotification(req, id); err != nil {
		return 0, nil, err
	}
	q := req.r.URL.Query()
	vs, err := s.store.VMoves(req.r.Context(), id, db.VMoveFilter{Status: optString(q, "status"), Type: optString(q, "type")}, p)
	if err != nil {
		return 0, nil, listError(err, p.Marker)
	}
	return listed("vmoves", vs, viewVMove)
}

func (s *Server) showVMove(req *request) (int, any, error) {
	id, vid := req.r.PathValue("notification_id"), req.r.PathValue("vmove_id")
	if err := s.hostNotification(req, id); err != nil {
		return 0, nil, err
	}
	notFound := errorf(404, "No vm move with id %s.", vid)
	if _, err := uuid.Parse(vid); err != nil {
		return 0, nil, notFound
	}
	v, err := s.store.VMove(req.r.Context(), vid)
	if errors.Is(err, db.ErrNotFound) || err == nil && v.NotificationUUID != id {
		return 0, nil, notFound
	}
	if err != nil {
		return 0, nil, err
	}
	return 200, map[string]any{"vmove": viewVMove(v)}, nil
}
