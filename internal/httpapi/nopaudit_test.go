package httpapi

import (
	"context"

	"github.com/voiceagent/voiceagent/internal/audit"
)

type nopAudit struct{}

func (nopAudit) InsertAuditEvents(context.Context, []audit.Event) error { return nil }
