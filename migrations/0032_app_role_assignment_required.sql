-- The service principal's `appRoleAssignmentRequired`: only users assigned to the application
-- (directly or through a group) may sign in to it (AADSTS50105), and only applications granted
-- one of its app roles may get an app-only token for it (AADSTS501051).
ALTER TABLE applications ADD COLUMN app_role_assignment_required INTEGER NOT NULL DEFAULT 0;
