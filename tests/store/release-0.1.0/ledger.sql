BEGIN TRANSACTION;
CREATE TABLE builds (
    id INTEGER PRIMARY KEY,
    ran_at TEXT NOT NULL,
    summary TEXT NOT NULL
);
INSERT INTO "builds" VALUES(1,'2026-11-20T08:00:00+00:00','{"adopted_emails": [], "dry_run": false, "edited_quietly": [], "emails": [{"email_id": "2026-11-20-7f26532873", "folder": "email/2026-11-20-7f26532873/", "new": ["433", "418", "412"], "subject": "Driftly: Does Chamomile Tea Actually Help You Sleep? and 2 more", "updated": []}], "files_unchanged": 0, "first_build": true, "held": [], "in_feeds": 5, "modified": [], "new": ["433", "418", "412"], "recorded_only": ["401", "301"], "rejected": [], "removed": [], "scheduled": [{"identity": "445", "published_at": "2027-01-12T07:00:00+00:00"}], "warnings": []}');
CREATE TABLE emails (
    email_id TEXT PRIMARY KEY,
    build_id INTEGER NOT NULL,
    written_at TEXT NOT NULL,
    subject TEXT NOT NULL,
    folder TEXT NOT NULL,
    posts TEXT NOT NULL
);
INSERT INTO "emails" VALUES('2026-11-20-7f26532873',1,'2026-11-20T08:00:00+00:00','Driftly: Does Chamomile Tea Actually Help You Sleep? and 2 more','email/2026-11-20-7f26532873/','["433", "418", "412"]');
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO "meta" VALUES('schema_version','1');
INSERT INTO "meta" VALUES('fingerprint','7cec5b6d648f4c67f09bd44fe5a957ba384d33413e0a9846578a2cc796bac284');
INSERT INTO "meta" VALUES('next_due','2027-01-12T07:00:00+00:00');
INSERT INTO "meta" VALUES('feeds_key','519d8a269932aa03');
INSERT INTO "meta" VALUES('build_token','b3637be9686b48ed9d9301a25cd0cfbf');
CREATE TABLE posts (
    identity TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    published_at TEXT NOT NULL,
    modified_at TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    emailed_at TEXT,
    email_id TEXT,
    removed_at TEXT
);
INSERT INTO "posts" VALUES('433','chamomile-tea.md','b09205c989a580f3ff60fde0fcacbb5a2aa37d09e919ce549918e6bc5d546b0f','2026-11-20T08:00:00+00:00','2026-11-20T08:00:00+00:00','2026-11-20T08:00:00+00:00','2026-11-20T08:00:00+00:00','2026-11-20-7f26532873',NULL);
INSERT INTO "posts" VALUES('418','evening-walks.md','d6d1f5d226229e820e63dec637c39f818616faa10976373a4e5e9b9615b2b5ec','2026-10-20T18:05:00+01:00','2026-10-20T18:05:00+01:00','2026-11-20T08:00:00+00:00','2026-11-20T08:00:00+00:00','2026-11-20-7f26532873',NULL);
INSERT INTO "posts" VALUES('412','magnesium-and-sleep.md','d85a9de40a3714da9a9c1c573431863ffcaee15ed556adedb9d0bc3cbda8a342','2026-10-02T07:30:00+00:00','2026-10-02T07:30:00+00:00','2026-11-20T08:00:00+00:00','2026-11-20T08:00:00+00:00','2026-11-20-7f26532873',NULL);
INSERT INTO "posts" VALUES('401','morning-light.md','047dfed6b7062a6f12071875b2a73fee4ca2efae0ae23773370224f5d0228a45','2026-09-10T06:45:00+00:00','2026-11-02T09:12:00+00:00','2026-11-20T08:00:00+00:00',NULL,NULL,NULL);
INSERT INTO "posts" VALUES('301','why-i-wake-up-before-my-alarm.md','5fc5a142fbc85a8350af2ca31b7cfddcb294593e7d52e44b2ac04d66c301daf1','2026-03-02T07:10:00+00:00','2026-03-02T07:10:00+00:00','2026-11-20T08:00:00+00:00',NULL,NULL,NULL);
COMMIT;
