-- kaifuku schema 3: the storm guard. released marks a notification the
-- guard held (status held) and an operator released: it is not held again.
ALTER TABLE notifications ADD COLUMN released INTEGER NOT NULL DEFAULT 0;
