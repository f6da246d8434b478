-- System settings (issue 13): the table exists since 0001 (one row per setting an administrator
-- changed; a missing row means the setting's default, see mm_common.system_settings). The settings
-- the platform reads get their value's type checked here too, whoever writes them (the admin API
-- validates first and answers 422; mmctl and hand-written SQL meet this).

ALTER TABLE system_settings ADD CONSTRAINT system_settings_value_type CHECK (
    CASE key
        WHEN 'maintenance' THEN
            jsonb_typeof(value) = 'object'
            AND jsonb_typeof(value -> 'on') = 'boolean'
            AND jsonb_typeof(value -> 'message') = 'string'
            AND char_length(value ->> 'message') <= 500
        WHEN 'signups' THEN
            value IN ('"open"'::jsonb, '"closed"'::jsonb, '"invite_only"'::jsonb)
        WHEN 'default_ai_model_id' THEN
            jsonb_typeof(value) = 'null'
            OR (jsonb_typeof(value) = 'string'
                AND (value #>> '{}') ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$')
        WHEN 'announcement' THEN
            jsonb_typeof(value) = 'null'
            OR (jsonb_typeof(value) = 'string' AND char_length(value #>> '{}') <= 500)
        ELSE TRUE
    END
);
