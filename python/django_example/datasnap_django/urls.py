from django.urls import path

from datasnap_django.views import dataset_options

app_name = "datasnap"
urlpatterns = [
    path("datasets/<str:key>/options.json", dataset_options, name="options"),
]
