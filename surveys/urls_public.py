from django.urls import path

from surveys import views_public, views_widget

app_name = "surveys_public"

urlpatterns = [
    path("m/s/t/<str:token>/", views_public.answer, name="answer"),
    path("m/s/p/<str:token>/", views_public.page, name="page"),
    path("m/s/a/<str:token>/", views_public.open_page, name="open"),
    path("widget/reviews/<slug:slug>/", views_widget.widget_reviews, name="widget-reviews"),
]
