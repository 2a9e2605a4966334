from django.db import migrations

# Rules compare date attributes (ISO strings in JSONB) with dates. A cast that fails on
# "next tuesday" would fail the whole query, so rules cast through this function,
# which answers NULL instead.
CREATE = """
CREATE OR REPLACE FUNCTION stagecraft_try_timestamptz(value text) RETURNS timestamptz
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
BEGIN
    IF value IS NULL OR value !~ '^\\d{4}-\\d{2}-\\d{2}' THEN
        RETURN NULL;
    END IF;
    RETURN value::timestamptz;
EXCEPTION WHEN others THEN
    RETURN NULL;
END
$$;
"""
DROP = "DROP FUNCTION IF EXISTS stagecraft_try_timestamptz(text);"


class Migration(migrations.Migration):
    dependencies = [("contacts", "0003_contactmark_source_contactmark_contactmark_marked_at")]
    operations = [migrations.RunSQL(CREATE, DROP)]
