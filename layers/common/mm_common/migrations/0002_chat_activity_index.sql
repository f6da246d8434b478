-- Chats are listed by latest activity (updated_at), not creation time.
CREATE INDEX idx_chats_project_activity ON chats (project_id, updated_at DESC, id DESC);
