from django.urls import path

from campaigns import views_public

urlpatterns = [
    path("m/o/<str:token>.gif", views_public.track_open, name="track-open"),
    path("m/c/<str:token>/", views_public.track_click, name="track-click"),
    path("m/u/<str:token>/", views_public.unsubscribe, name="unsubscribe"),
]
