app_name = "loyalty_api"

urlpatterns: list = []
