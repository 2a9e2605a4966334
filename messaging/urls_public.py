from django.urls import path

from messaging import views_public, views_webhooks

app_name = "messaging_public"

urlpatterns = [
    path("m/o/<str:token>.gif", views_public.track_open, name="track-open"),
    path("m/c/<str:token>/", views_public.track_click, name="track-click"),
    # SMS: a short link (no trailing slash, one segment) for the same click tracking.
    path("m/s/<str:token>", views_public.track_short_click, name="track-short-click"),
    path("m/u/<str:token>/", views_public.unsubscribe, name="unsubscribe"),
    path("media/<int:workspace_id>/<str:name>", views_public.media_file, name="media-file"),
    path("hooks/email/", views_webhooks.email_events, name="email-webhook"),
    path("hooks/twilio/status/", views_webhooks.twilio_status, name="twilio-status"),
    path("hooks/twilio/inbound/", views_webhooks.twilio_inbound, name="twilio-inbound"),
]
